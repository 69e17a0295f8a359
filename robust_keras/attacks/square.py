"""Square Attack (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020): a black-box random search
that needs only the logits, l-inf and l2, with AutoAttack's schedule (docs/methods.md §D.3).

Per example, from a starting point on the boundary of the ball, each iteration proposes one change
confined to a random square window of side s and keeps it when the loss goes down (or the example
becomes misclassified); an example stops as soon as it is misclassified (targeted: classified as
its target), so it spends no further queries. As in the reference implementation, one iteration
draws the window position (and, for l-inf, one sign per channel) for the whole batch.

- l-inf: the start is x + eps * (a random sign per column and channel), clipped to [0, 1]; a
  proposal adds 2 eps * (a sign per channel) on the window and projects back onto the ball.
- l2: the start puts a centred "bump" eta(s0) of random sign per channel on a grid of windows of
  side s0 = H // 5 and rescales the whole perturbation to norm eps; a proposal moves the mass of a
  second random window into the first, reshaped as eta(s) + the old window content, and rescales
  to norm eps (the reference's meta-update).
- schedule: the share of pixels p of a window starts at p_init and halves after the rescaled
  iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 (iteration i counts as
  i * 10000 / queries); the side is s = round(sqrt(p * H * W)) (at least 1, l2: odd and >= 3).
- vectors (B, D) (inputs that are not images, e.g. feature averaging's Gaussian clusters) are one
  row of D pixels: a window is a run of round(p * D) consecutive coordinates (l2: odd and >= 3),
  the l2 start a row of 5 such runs, and the l2 bump positive on the left half of its run,
  negative on the right. ``clip=None`` drops the [0, 1] box (unbounded inputs).
- loss (minimised): the margin z_y - max_{j != y} z_j (default) or -CE; targeted: CE of the target.
  Success is margin <= 0.

Queries: each example pays one forward pass at its starting point and one per iteration while it
is still to be fooled: at most ``restarts * (queries + 1)`` in total, ``queries`` iterations per
restart (the reference's ``n_queries``). The whole search is one ``tf.function`` per image shape:
one compiled loop per schedule stage (a static window side), examples that succeeded are dropped
from the batch the model sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from robust_keras.attacks import losses
from robust_keras.attacks.losses import TINY
from robust_keras.attacks.radius import VariableRadius
from robust_keras.attacks.steps import per_example

LOSSES = ("margin", "ce")
_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)  # rescaled iterations after which p halves


def schedule(queries: int, p_init: float, rescale: bool = True) -> list[tuple[int, int, float]]:
    """[(first iteration, end iteration, p)]: the stages of the window share p over ``queries``
    iterations (p_init halved after each of the rescaled iterations in ``_HALVINGS``)."""
    stages: list[tuple[int, int, float]] = []
    for i in range(queries):
        scaled = int(i / queries * 10000) if rescale else i
        p = p_init / 2 ** sum(scaled > t for t in _HALVINGS)
        if stages and stages[-1][2] == p:
            stages[-1] = (stages[-1][0], i + 1, p)
        else:
            stages.append((i, i + 1, p))
    return stages


def window_side(p: float, height: int, width: int, norm: str) -> int:
    """Side s of the square window covering a share p of the H x W pixels (l2: odd, >= 3)."""
    s = int(round(math.sqrt(p * height * width)))
    if norm == "l2":
        s = max(s, 3)
        s += 1 - s % 2
    return max(1, min(s, height, width))


def window_shape(p: float, height: int, width: int, norm: str) -> tuple[int, int]:
    """(rows, cols) of the window covering a share p of the H x W pixels: a square of side
    :func:`window_side` for images, a run of round(p * W) coordinates (l2: odd, >= 3) for a row (H = 1)."""
    if height > 1:
        side = window_side(p, height, width, norm)
        return side, side
    cols = int(round(p * width))
    if norm == "l2":
        cols = max(cols, 3)
        cols += 1 - cols % 2
    return 1, max(1, min(cols, width))


def _rectangle_bump(rows: int, cols: int) -> np.ndarray:
    """(rows, cols) unit-norm bump: nested rectangles around the centre, ring k weighted 1 / (k+1)^2."""
    bump = np.zeros((rows, cols))
    top, left = rows // 2, cols // 2
    for ring in range(max(top, left) + 1):
        bump[max(top - ring, 0) : top + ring + 1, max(left - ring, 0) : left + ring + 1] += 1.0 / (ring + 1) ** 2
    return bump / np.sqrt((bump**2).sum())


def l2_bump(rows: int, cols: int | None = None) -> np.ndarray:
    """(rows, cols) float32 unit-norm perturbation of the l2 attack (cols defaults to rows): a
    positive bump on the top half, a negative one on the bottom half -- left and right halves for a
    single row (the caller transposes or mirrors it at random)."""
    cols = rows if cols is None else cols
    bump = np.zeros((rows, cols))
    if rows > 1:
        if rows // 2:
            bump[: rows // 2] = _rectangle_bump(rows // 2, cols)
        bump[rows // 2 :] = -_rectangle_bump(rows - rows // 2, cols)
    else:
        if cols // 2:
            bump[:, : cols // 2] = _rectangle_bump(1, cols // 2)
        bump[:, cols // 2 :] = -_rectangle_bump(1, cols - cols // 2)
    return (bump / np.sqrt((bump**2).sum())).astype(np.float32)


def _grid(dim: int, cell: int) -> list[int]:
    """Starts of the l2 start's cells along one axis: ``cell``-wide, centred (5 cells when dim // 5 = cell)."""
    first = max((dim - 5 * cell) // 2, 0)
    return [start for start in range(first, first + cell * (dim // cell), cell) if start + cell <= dim]


class Square(VariableRadius):
    """Square Attack in the l-inf or l2 ball around x intersected with the box ``clip``.

    Args:
      logits_fn: float32 (B, H, W, C) images or (B, D) vectors -> float32 (B, K) logits; only
        called forward.
      norm: ``"linf"`` or ``"l2"``; eps: radius in pixel units.
      queries: iterations per restart (AutoAttack: 5000); restarts: runs for examples not yet fooled.
      p_init: initial share of pixels of a window (AutoAttack: 0.8).
      loss: ``"margin"`` or ``"ce"`` (untargeted); targeted attacks minimise the target's CE.
      targeted: ``labels`` are targets to reach.
      rescale_schedule: stretch the schedule (defined for 10,000 iterations) to ``queries``.
      clip: the box (low, high) of valid inputs (images: (0, 1)), or None for unbounded inputs.
    """

    def __init__(
        self,
        logits_fn: Callable[[tf.Tensor], tf.Tensor],
        *,
        norm: str,
        eps: float,
        queries: int = 5000,
        restarts: int = 1,
        p_init: float = 0.8,
        loss: str = "margin",
        targeted: bool = False,
        rescale_schedule: bool = True,
        clip: tuple[float, float] | None = (0.0, 1.0),
    ):
        if norm not in ("linf", "l2"):
            raise ValueError(f"unknown norm {norm!r}; use 'l2' or 'linf'")
        if loss not in LOSSES:
            raise ValueError(f"unknown Square loss {loss!r}; use one of {LOSSES}")
        if queries < 1 or restarts < 1:
            raise ValueError("Square needs queries >= 1 and restarts >= 1")
        self.logits_fn, self.norm = logits_fn, norm
        self.queries, self.restarts, self.loss, self.targeted = queries, restarts, loss, targeted
        self.stages, self.clip = schedule(queries, p_init, rescale_schedule), clip
        self._hold_radius(eps)
        self._compiled: dict[tuple[int, ...], Callable] = {}

    def __call__(self, x, labels, seed=(0, 0)) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Attacks a batch: x float32 (B, H, W, C) images or (B, D) vectors (in ``clip``), labels
        int (B,) (targets if ``targeted``), seed two ints. Returns x_adv (x's shape), success bool
        (B,) (margin <= 0: misclassified / target reached), queries int32 (B,) (forward passes spent
        per example)."""
        x = tf.convert_to_tensor(x, tf.float32)
        if x.shape.rank not in (2, 4):
            raise ValueError(f"Square attacks images (B, H, W, C) or vectors (B, D); got shape {x.shape}")
        key = tuple(x.shape[1:])
        if key not in self._compiled:
            spec = [
                tf.TensorSpec([None, *key], tf.float32),
                tf.TensorSpec([None], tf.int64),
                tf.TensorSpec([2], tf.int64),
            ]
            self._compiled[key] = tf.function(self._attack, input_signature=spec)
        return self._compiled[key](x, tf.cast(labels, tf.int64), tf.cast(seed, tf.int64))

    # -- pieces ---------------------------------------------------------------------------------

    def _margin_and_loss(self, x, labels, input_shape):
        """(margin, loss), each (n,): success is margin <= 0, the search minimises loss. ``x`` is
        (n, H, W, C); the model sees it as (n, *input_shape)."""
        logits = tf.cast(self.logits_fn(tf.reshape(x, [-1, *input_shape])), tf.float32)
        z_label, z_other = losses.label_logit(logits, labels), losses.largest_other(logits, labels)
        ce = losses.cross_entropy(logits, labels)
        if self.targeted:
            return z_other - z_label, ce
        margin = z_label - z_other
        return margin, margin if self.loss == "margin" else -ce

    def _clip(self, t):
        return t if self.clip is None else tf.clip_by_value(t, *self.clip)

    def _project(self, x, x_new):
        """Onto the ball around x and the box (l-inf: clip; l2 proposals have norm eps already)."""
        if self.norm == "linf":
            x_new = tf.clip_by_value(x_new, x - self._eps, x + self._eps)
        return self._clip(x_new)

    @staticmethod
    def _window(size: tuple[int, int], corner, shape, values=None):
        """(H, W, 1) mask of the (rows, cols) = ``size`` window at ``corner`` = (row, col), or
        ``values`` (n, rows, cols, C) placed there in an (n, H, W, C) zero tensor."""
        height, width = shape[0], shape[1]
        pads = [[corner[0], height - size[0] - corner[0]], [corner[1], width - size[1] - corner[1]]]
        if values is None:
            return tf.pad(tf.ones([*size, 1]), [*pads, [0, 0]])
        return tf.pad(values, [[0, 0], *pads, [0, 0]])

    @staticmethod
    def _corner(size: tuple[int, int], shape, seed):
        """A random window corner (row, col), each uniform in 0 .. dim - size - 1 (0 if size = dim)."""
        high = tf.constant([max(shape[0] - size[0], 1), max(shape[1] - size[1], 1)], tf.int32)
        draw = tf.random.stateless_uniform([2], seed, 0.0, 1.0)
        corner = tf.cast(draw * tf.cast(high, tf.float32), tf.int32)
        return tf.minimum(corner, high - 1)

    @staticmethod
    def _signs(shape, seed):
        return tf.sign(tf.random.stateless_uniform(shape, seed, -1.0, 1.0))

    def _bump(self, size: tuple[int, int], seed):
        """eta as (rows, cols) = ``size``, transposed (a square) or mirrored (a run) with probability 1/2."""
        bump = tf.constant(l2_bump(*size))
        flip = tf.random.stateless_uniform([], seed) > 0.5
        turned = (lambda: tf.transpose(bump)) if size[0] == size[1] else (lambda: tf.reverse(bump, [0, 1]))
        return tf.cond(flip, turned, lambda: bump)

    def _start(self, x, seed):
        """The starting points (n, H, W, C) on the boundary of the ball."""
        n, (height, width, channels) = tf.shape(x)[0], x.shape[1:]
        if self.norm == "linf":  # vertical stripes: one sign per (example, column, channel)
            return self._clip(x + self._eps * self._signs([n, 1, width, channels], seed))
        size = (max(height // 5, 1) if height > 1 else 1, max(width // 5, 1))
        delta = tf.zeros_like(x)
        for a, row in enumerate(_grid(height, size[0])):
            for b, col in enumerate(_grid(width, size[1])):
                cell = tf.random.experimental.stateless_fold_in(seed, a * 1000 + b)
                seeds = tf.random.experimental.stateless_split(cell, 2)
                signs = self._signs([n, 1, 1, channels], seeds[0])
                values = self._bump(size, seeds[1])[None, :, :, None] * signs
                delta += self._window(size, (row, col), (height, width), values)
        return self._clip(x + self._eps * delta / (self._l2(delta) + TINY))

    @staticmethod
    def _l2(t):
        """Per-example l2 norm, (n, 1, 1, 1)."""
        return tf.sqrt(tf.reduce_sum(tf.square(t), axis=[1, 2, 3], keepdims=True))

    def _proposal(self, x, x_best, size: tuple[int, int], seed):
        """One iteration's candidates (n, H, W, C) for the examples x still to be fooled."""
        n, (height, width, channels) = tf.shape(x)[0], x.shape[1:]
        seeds = tf.random.experimental.stateless_split(seed, 5)
        corner = self._corner(size, (height, width), seeds[0])
        if self.norm == "linf":
            signs = self._signs([1, 1, 1, channels], seeds[1])
            change = self._window(size, corner, (height, width), 2.0 * self._eps * tf.tile(signs, [1, *size, 1]))
            return self._project(x, x_best + change)
        delta = x_best - x
        target = self._corner(size, (height, width), seeds[2])  # the window whose mass moves
        mask, mask_target = self._window(size, corner, (height, width)), self._window(size, target, (height, width))
        old = tf.slice(delta, [0, corner[0], corner[1], 0], [-1, *size, -1])
        old_norm = tf.sqrt(tf.reduce_sum(tf.square(old), axis=[1, 2], keepdims=True))  # (n, 1, 1, C)
        free = tf.maximum(tf.square(self._eps) - tf.square(self._l2(delta)), 0.0) / channels
        moved = tf.square(self._l2(delta * tf.maximum(mask, mask_target)))
        new = self._bump(size, seeds[3])[None, :, :, None] * self._signs([n, 1, 1, channels], seeds[4])
        new = new + old / (old_norm + TINY)
        new_norm = tf.sqrt(tf.reduce_sum(tf.square(new), axis=[1, 2], keepdims=True))
        new = new / (new_norm + TINY) * tf.sqrt(free + moved)
        delta = delta * (1.0 - mask_target) * (1.0 - mask) + self._window(size, corner, (height, width), new)
        return self._clip(x + self._eps * delta / (self._l2(delta) + TINY))

    # -- the attack -----------------------------------------------------------------------------

    def _single_run(self, x, labels, seed, input_shape):
        """One restart on (n, H, W, C) examples: (x_best, margin at x_best, queries per example)."""
        height, width = x.shape[1], x.shape[2]
        start_seed, seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        x_best = self._start(x, start_seed)
        margin_min, loss_min = self._margin_and_loss(x_best, labels, input_shape)
        spent = tf.ones_like(labels, tf.int32)
        for first, end, p in self.stages:
            size = window_shape(p, height, width, self.norm)

            def search(i, x_best, margin_min, loss_min, spent, size=size):
                rows = tf.where(margin_min > 0.0)  # (m, 1): the examples still to be fooled
                x_cur, best_cur = tf.gather_nd(x, rows), tf.gather_nd(x_best, rows)
                candidate = self._proposal(
                    x_cur, best_cur, size, tf.random.experimental.stateless_fold_in(seed, tf.cast(i, tf.int64))
                )
                margin, loss = self._margin_and_loss(candidate, tf.gather_nd(labels, rows), input_shape)
                loss_cur, margin_cur = tf.gather_nd(loss_min, rows), tf.gather_nd(margin_min, rows)
                lower = loss < loss_cur
                keep = lower | (margin <= 0.0)
                kept = tf.where(per_example(keep, candidate), candidate, best_cur)
                return (
                    i + 1,
                    tf.tensor_scatter_nd_update(x_best, rows, kept),
                    tf.tensor_scatter_nd_update(margin_min, rows, tf.where(keep, margin, margin_cur)),
                    tf.tensor_scatter_nd_update(loss_min, rows, tf.where(lower, loss, loss_cur)),
                    tf.tensor_scatter_nd_add(spent, rows, tf.ones_like(margin, tf.int32)),
                )

            _, x_best, margin_min, loss_min, spent = tf.while_loop(
                lambda i, _x, margin_min, _l, _s, end=end: (i < end) & tf.reduce_any(margin_min > 0.0),
                search,
                (tf.constant(first), x_best, margin_min, loss_min, spent),
            )
        return x_best, margin_min, spent

    def _attack(self, x, labels, seed):
        input_shape = x.shape[1:]
        if x.shape.rank == 2:  # a vector is one row of D pixels
            x = tf.reshape(x, [-1, 1, x.shape[1], 1])
        margin, _ = self._margin_and_loss(x, labels, input_shape)
        x_adv, done = x, margin <= 0.0  # already misclassified (targeted: at the target): nothing to do
        spent = tf.zeros_like(labels, tf.int32)
        for restart in range(self.restarts):
            rows = tf.where(~done)
            found, margin, used = self._single_run(
                tf.gather_nd(x, rows),
                tf.gather_nd(labels, rows),
                tf.random.experimental.stateless_fold_in(seed, restart),
                input_shape,
            )
            wins = margin <= 0.0
            x_adv = tf.tensor_scatter_nd_update(
                x_adv, rows, tf.where(per_example(wins, found), found, tf.gather_nd(x_adv, rows))
            )
            done = tf.tensor_scatter_nd_update(done, rows, wins)
            spent = tf.tensor_scatter_nd_add(spent, rows, used)
        return tf.reshape(x_adv, [-1, *input_shape]), done, spent
