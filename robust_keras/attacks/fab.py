"""FAB-T, the targeted Fast Adaptive Boundary attack (Croce & Hein, ICML 2020; docs/methods.md §D.3):
a minimal-norm attack, l-inf or l2, as one ``tf.function`` per image shape.

Per example, toward the target class t (the k-th most likely wrong class at x), from x^(0) = x:

- linearise the boundary between the label y and t at the iterate: f = z_t - z_y, g = grad_x f,
  the hyperplane {v : f + <g, v - x^(i)> = 0};
- project both the iterate and the original x onto it, inside the box [0, 1] (:func:`box_projection`:
  the smallest l-inf / l2 step that reaches the hyperplane without leaving the box; ``clip=None``
  drops the box, for unbounded inputs such as feature averaging's Gaussian clusters): d_i, d_0;
- step x^(i+1) = clip((1 - a)(x^(i) + eta d_i) + a (x + eta d_0), 0, 1), a = min(||d_i|| / (||d_i||
  + ||d_0||), alpha_max): mostly from the iterate, pulled toward x by how far the iterate already is;
  eta = 1.05 overshoots the linearised boundary;
- when x^(i+1) is misclassified it is kept if closer to x than the best so far, and the iterate
  moves back toward x: x^(i+1) = x + beta (x^(i+1) - x), beta = 0.9.

Restart r > 0 starts at a random point at half the smaller of the best distance found and eps.
Each iteration costs one forward + backward (the gradient of z_t - z_y) and one forward (is the new
iterate misclassified). Success: a misclassified point within eps of x.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from robust_keras.attacks import losses
from robust_keras.attacks.losses import TINY
from robust_keras.attacks.radius import VariableRadius
from robust_keras.attacks.steps import per_example

_NOT_FOUND = 1e10


def box_projection(points, w, b, norm: str, box: tuple[float, float] | None = (0.0, 1.0)):
    """The smallest step d (in l-inf or l2) with <w, p + d> = b and p + d in ``box``, per row.

    points, w: float32 (n, D); b: (n,); box: (low, high) bounds of every coordinate, or None (no
    box: d = -c s / <|w|, s> sign(w), s_i = 1 for l-inf, |w_i| for l2, c = <w, p> - b). When the
    hyperplane is out of reach inside the box, the step that gets closest (every coordinate at its
    box edge in the useful direction). Coordinates with w_i = 0 do not move.

    With c = |<w, p> - b| and every coordinate moved toward the hyperplane by m_i = min(lambda s_i,
    room_i) (s_i = 1 for l-inf, |w_i| for l2; room_i the distance to the box edge in that
    direction), the reach G(lambda) = sum_i |w_i| m_i is piecewise linear and increasing; lambda
    solves G(lambda) = c between the sorted breakpoints room_i / s_i (the KKT conditions of both
    problems).
    """
    gap = tf.reduce_sum(w * points, 1) - b
    w = w * per_example(tf.where(gap >= 0.0, 1.0, -1.0), w)  # now <w, p> - b = c >= 0: move to lower <w, .>
    c = tf.abs(gap)
    magnitude = tf.abs(w)
    speed = tf.ones_like(w) if norm == "linf" else magnitude
    if box is None:  # the plain projection onto the hyperplane in the norm's geometry
        lam = c / tf.maximum(tf.reduce_sum(magnitude * speed, 1), TINY)
        return -tf.sign(w) * lam[:, None] * speed
    low, high = box
    room = tf.where(w > 0.0, points - low, high - points)  # how far each coordinate can move the useful way
    breakpoint_ = tf.where(speed > 0.0, room / tf.maximum(speed, TINY), float("inf"))
    order = tf.argsort(breakpoint_, axis=1)
    ranked = tf.gather(breakpoint_, order, batch_dims=1)
    saturated = tf.gather(magnitude * room, order, batch_dims=1)
    slope = tf.gather(magnitude * speed, order, batch_dims=1)
    before = tf.cumsum(saturated, axis=1, exclusive=True)  # sum over coordinates saturated before k
    after = tf.cumsum(slope, axis=1, reverse=True)  # slope of the still-moving ones from k on
    reach = before + tf.where(tf.math.is_finite(ranked), ranked, 0.0) * after  # G at breakpoint k
    k = tf.reduce_sum(tf.cast(reach < c[:, None], tf.int32), 1)  # coordinates saturated at the solution
    dims = tf.shape(w)[1]
    inside = k < dims
    at = tf.minimum(k, dims - 1)
    lam = (c - tf.gather(before, at, batch_dims=1)) / tf.maximum(tf.gather(after, at, batch_dims=1), TINY)
    lam = tf.where(inside, lam, float("inf"))  # out of reach: every coordinate to its edge
    move = tf.minimum(lam[:, None] * speed, room)
    return tf.where(magnitude > 0.0, -tf.sign(w) * move, 0.0)


class FABTargeted(VariableRadius):
    """FAB-T in the l-inf or l2 ball: the closest misclassified point found toward a target class.

    Args:
      logits_fn: float32 (B, ...) inputs (in ``clip``) -> float32 (B, K) logits.
      norm: ``"linf"`` or ``"l2"``; eps: the budget a success must be within (and restarts' radius).
      steps: iterations per restart (AutoAttack: 100); restarts: runs, r > 0 from a random point.
      alpha_max, eta, beta: the reference's 0.1, 1.05, 0.9.
      clip: the box (low, high) every iterate stays in (images: (0, 1)), or None for unbounded inputs.
    """

    def __init__(
        self,
        logits_fn: Callable[[tf.Tensor], tf.Tensor],
        *,
        norm: str,
        eps: float,
        steps: int = 100,
        restarts: int = 1,
        alpha_max: float = 0.1,
        eta: float = 1.05,
        beta: float = 0.9,
        clip: tuple[float, float] | None = (0.0, 1.0),
    ):
        if norm not in ("linf", "l2"):
            raise ValueError(f"unknown norm {norm!r}; use 'l2' or 'linf'")
        self.logits_fn, self.norm, self.steps, self.restarts = logits_fn, norm, steps, restarts
        self.alpha_max, self.eta, self.beta, self.clip = alpha_max, eta, beta, clip
        self._hold_radius(eps)
        self._compiled: dict[tuple[int, ...], Callable] = {}

    def _clip(self, t):
        return t if self.clip is None else tf.clip_by_value(t, *self.clip)

    def __call__(self, x, labels, seed=(0, 0), target_rank: int = 0) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """x float32 (B, ...) (in ``clip``), labels int (B,) true labels; the target is the
        (target_rank + 1)-th most likely wrong class at x. Returns x_adv (B, ...) (the closest
        misclassified point found, else x), success bool (B,) (found, within eps), distance float32
        (B,) (its norm; 1e10 if none was found)."""
        x = tf.convert_to_tensor(x, tf.float32)
        key = tuple(x.shape[1:])
        if key not in self._compiled:
            spec = [
                tf.TensorSpec([None, *key], tf.float32),
                tf.TensorSpec([None], tf.int64),
                tf.TensorSpec([2], tf.int64),
                tf.TensorSpec([], tf.int32),
            ]
            self._compiled[key] = tf.function(self._attack, input_signature=spec)
        return self._compiled[key](
            x, tf.cast(labels, tf.int64), tf.cast(seed, tf.int64), tf.constant(target_rank, tf.int32)
        )

    def _norm(self, flat):
        """Per-row norm of (n, D)."""
        if self.norm == "linf":
            return tf.reduce_max(tf.abs(flat), 1)
        return tf.sqrt(tf.reduce_sum(tf.square(flat), 1))

    def _margin_and_gradient(self, x1, labels, targets):
        """f = z_t - z_y (n,) at x1 and its input gradient (n, ...)."""
        with tf.GradientTape() as tape:
            tape.watch(x1)
            logits = tf.cast(self.logits_fn(x1), tf.float32)
            f = tf.gather(logits, targets, batch_dims=1) - tf.gather(logits, labels, batch_dims=1)
        return f, tape.gradient(f, x1)

    def _random_start(self, x, radius, seed):
        shape = tf.shape(x)
        n = shape[0]
        if self.norm == "linf":
            t = tf.random.stateless_uniform(shape, seed, -1.0, 1.0)
        else:
            t = tf.random.stateless_normal(shape, seed)
        size = self._norm(tf.reshape(t, [n, -1]))
        return self._clip(x + per_example(0.5 * radius / (size + TINY), x) * t)

    def _attack(self, x, labels, seed, target_rank):
        n = tf.shape(x)[0]
        logits = tf.cast(self.logits_fn(x), tf.float32)
        others = losses.without_label(logits, labels)
        targets = tf.cast(tf.argsort(others, axis=-1, direction="DESCENDING")[:, target_rank], tf.int64)
        correct = tf.argmax(logits, -1) == labels
        x0 = tf.reshape(x, [n, -1])
        best, best_norm = x, tf.fill([n], _NOT_FOUND)
        for restart in range(self.restarts):
            x1 = x
            if restart > 0:
                radius = tf.minimum(best_norm, self._eps)
                x1 = self._random_start(x, radius, tf.random.experimental.stateless_fold_in(seed, restart))
            for _ in tf.range(self.steps):
                f, g = self._margin_and_gradient(x1, labels, targets)
                w = tf.reshape(g, [n, -1])
                flat1 = tf.reshape(x1, [n, -1])
                b = tf.reduce_sum(w * flat1, 1) - f  # the linearised boundary: <w, v> = b
                d = box_projection(
                    tf.concat([flat1, x0], 0), tf.concat([w, w], 0), tf.concat([b, b], 0), self.norm, self.clip
                )
                d1, d0 = d[:n], d[n:]
                a1, a0 = tf.maximum(self._norm(d1), 1e-8), tf.maximum(self._norm(d0), 1e-8)
                alpha = tf.clip_by_value(a1 / (a1 + a0), 0.0, self.alpha_max)[:, None]
                flat1 = self._clip((flat1 + self.eta * d1) * (1.0 - alpha) + (x0 + self.eta * d0) * alpha)
                x1 = tf.reshape(flat1, tf.shape(x))
                wrong = tf.argmax(self.logits_fn(x1), -1) != labels
                distance = self._norm(flat1 - x0)
                closer = wrong & (distance < best_norm)
                best = tf.where(per_example(closer, x), x1, best)
                best_norm = tf.where(closer, distance, best_norm)
                x1 = tf.where(per_example(wrong, x), x + self.beta * (x1 - x), x1)
        success = correct & (best_norm <= self._eps)
        return best, success, tf.where(correct, best_norm, _NOT_FOUND)
