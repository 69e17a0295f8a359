"""Auto-PGD (Croce & Hein, ICML 2020): APGD-CE, APGD-DLR and APGD-T (targeted DLR over the top
classes), l-inf and l2, as one ``tf.function`` per image shape like :class:`~robust_keras.attacks.PGD`.

Per example and restart (docs/methods.md §D.1):

- step size eta starts at 2 eps; x_1 = P(x_0 + eta d(g_0)), d = sign (l-inf) or g / ||g|| (l2);
- then z = P(x_k + eta d(g_k)), x_{k+1} = P(x_k + alpha (z - x_k) + (1 - alpha)(x_k - x_{k-1}))
  with momentum alpha = 0.75;
- at the checkpoints w_j = ceil(p_j N), p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03,
  0.06), eta is halved and the iterate restarts from the best point x_max when (1) the loss went up
  in fewer than rho = 75% of the steps since the last checkpoint, or (2) eta was not halved at the
  last checkpoint and the best loss has not improved since;
- the best point is kept per example: a misclassifying iterate if one was found, else x_max.

Losses (z = logits, pi sorts them in decreasing order, y the true label, t the target):
CE; DLR = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3); targeted DLR = -(z_y - z_t) / (z_pi1 -
(z_pi3 + z_pi4) / 2), restart r targeting the (r mod k + 1)-th most likely other class at x.
Success is always misclassification (argmax != y): APGD measures robust accuracy.

Randomised defences (a model whose logits change from call to call): with ``eot`` = E > 1 every
iterate's loss and gradient are the means over E forward + backward passes (Expectation over
Transformation; AutoAttack's "rand" version uses E = 20); misclassification is that of the last draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import tensorflow as tf

from robust_keras.attacks import losses
from robust_keras.attacks.radius import VariableRadius
from robust_keras.attacks.steps import make_step, per_example
from robust_keras.errors import ModelError

LOSSES = ("ce", "dlr", "dlr_targeted", "margin")


def checkpoints(steps: int) -> list[int]:
    """Iterations at which the step size may be halved: ceil(p_j * steps) for p_j < 1, j >= 1."""
    p = [0.0, 0.22]
    while p[-1] < 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({math.ceil(round(q * steps, 6)) for q in p[1:] if q < 1.0} - {0})  # round: 0.57 * 100 is 57.000...1


class APGD(VariableRadius):
    """Auto-PGD in the l-inf or l2 ball around x intersected with the [0, 1] box.

    Args:
      logits_fn: float32 (B, ...) in [0, 1] -> float32 (B, K) logits.
      norm: ``"linf"`` or ``"l2"``; eps: radius in pixel units.
      steps: iterations N per restart (paper: 100).
      restarts: runs per example; restart 0 starts at a random point too (as AutoAttack does).
      loss: ``"ce"``, ``"dlr"`` (K >= 3), ``"dlr_targeted"`` (K >= 4, APGD-T) or ``"margin"``
        (max_{j != y} z_j - z_y: for two classes APGD-CE's iterates without the float32 underflow of
        CE's gradient at margins above ~17; see attacks/pgd.py).
      target_classes: APGD-T: the k most likely other classes restarts cycle through (paper: 9).
      rho, alpha: checkpoint condition and momentum (paper: 0.75 each).
      eot: draws of the model averaged per iterate (1 for a deterministic model).
      clip: (low, high) input box, or None.
    """

    def __init__(
        self,
        logits_fn: Callable[[tf.Tensor], tf.Tensor],
        *,
        norm: str,
        eps: float,
        steps: int = 100,
        restarts: int = 1,
        loss: str = "ce",
        target_classes: int = 9,
        rho: float = 0.75,
        alpha: float = 0.75,
        eot: int = 1,
        clip: tuple[float, float] | None = (0.0, 1.0),
    ):
        if loss not in LOSSES:
            raise ValueError(f"unknown APGD loss {loss!r}; use one of {LOSSES}")
        if eot < 1:
            raise ValueError(f"eot must be at least 1 draw, got {eot}")
        self.logits_fn, self.norm, self.steps, self.restarts = logits_fn, norm, steps, restarts
        self._hold_radius(eps)  # the step sizes follow it
        self.loss, self.target_classes, self.rho, self.alpha, self.clip = loss, target_classes, rho, alpha, clip
        self.eot = eot
        self.step = make_step(norm, self._eps)
        self._checkpoints = checkpoints(steps)
        self._compiled: dict[tuple[int, ...], Callable] = {}

    def __call__(self, x, labels, seed=(0, 0), first_target: int = 0) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Attacks a batch: x float32 (B, ...) in [0, 1], labels int (B,) true labels, seed two
        ints; APGD-T: restart r targets the (first_target + r) mod k + 1-th most likely other class
        (AutoAttack runs one target per call). Returns x_adv (B, ...), success bool (B,)
        (misclassified), loss float32 (B,)."""
        x = tf.convert_to_tensor(x, tf.float32)
        key = tuple(x.shape[1:])
        if key not in self._compiled:
            classes = int(self.logits_fn(x[:1]).shape[-1])
            need = {"ce": 2, "margin": 2, "dlr": 3, "dlr_targeted": 4}[self.loss]
            if classes < need:
                raise ModelError(
                    f"APGD with loss {self.loss} needs at least {need} classes; the model has {classes}",
                    "use loss='ce'" if classes >= 2 else "give the model one logit per class",
                )
            spec = [
                tf.TensorSpec([None, *key], tf.float32),
                tf.TensorSpec([None], tf.int64),
                tf.TensorSpec([2], tf.int64),
                tf.TensorSpec([], tf.int32),
            ]
            self._compiled[key] = tf.function(self._attack, input_signature=spec)
        return self._compiled[key](
            x, tf.cast(labels, tf.int64), tf.cast(seed, tf.int64), tf.constant(first_target, tf.int32)
        )

    # -- pieces ---------------------------------------------------------------------------------

    def _objective(self, logits, labels, targets):
        """Per-example loss to maximise, (B,)."""
        if self.loss == "dlr_targeted":
            return losses.dlr_targeted(logits, labels, targets)
        return {"ce": losses.cross_entropy, "margin": losses.margin, "dlr": losses.dlr}[self.loss](logits, labels)

    def _loss_and_wrong(self, x_adv, labels, targets):
        """(loss to maximise, misclassified), each (B,)."""
        logits = tf.cast(self.logits_fn(x_adv), tf.float32)
        return self._objective(logits, labels, targets), tf.argmax(logits, -1, output_type=tf.int64) != labels

    def _draw(self, x_adv, labels, targets):
        """(loss, its input gradient, misclassified) of one forward + backward pass."""
        with tf.GradientTape() as tape:
            tape.watch(x_adv)
            loss, wrong = self._loss_and_wrong(x_adv, labels, targets)
        return loss, tape.gradient(loss, x_adv), wrong

    def _evaluate(self, x_adv, labels, targets):
        """(loss, gradient, misclassified): one pass, or with eot > 1 the loss and gradient averaged
        over ``eot`` passes and the last pass's misclassification."""
        if self.eot == 1:
            return self._draw(x_adv, labels, targets)
        loss, grad, wrong = self._draw(x_adv, labels, targets)
        for _ in tf.range(self.eot - 1):
            more_loss, more_grad, wrong = self._draw(x_adv, labels, targets)
            loss, grad = loss + more_loss, grad + more_grad
        return loss / self.eot, grad / self.eot, wrong

    def _project(self, x, x_adv):
        x_adv = x + self.step.project(x_adv - x)
        return x_adv if self.clip is None else tf.clip_by_value(x_adv, self.clip[0], self.clip[1])

    @staticmethod
    def _where(mask, a, b):
        """Per-example choice between two batches of any rank."""
        return tf.where(per_example(mask, a), a, b)

    # -- the attack -----------------------------------------------------------------------------

    def _attack(self, x, labels, seed, first_target):
        batch = tf.shape(x)[0]
        clean_logits = tf.cast(self.logits_fn(x), tf.float32)
        # APGD-T: the other classes by decreasing logit at x (the true class pushed to the end)
        ranked = tf.cast(
            tf.argsort(losses.without_label(clean_logits, labels), axis=-1, direction="DESCENDING"),
            tf.int64,
        )
        k = tf.minimum(self.target_classes, tf.shape(clean_logits)[-1] - 1)
        best_x, best_loss = x, tf.fill([batch], -float("inf"))
        best_wrong = tf.argmax(clean_logits, -1, output_type=tf.int64) != labels
        marks = tf.constant(self._checkpoints or [self.steps + 1], tf.int32)
        for restart in tf.range(self.restarts):
            targets = ranked[:, (first_target + restart) % k]
            start = self.step.random_init(
                tf.shape(x), tf.random.experimental.stateless_fold_in(seed, tf.cast(restart, tf.int64))
            )
            x_k = self._project(x, x + start)
            f_k, g_k, wrong = self._evaluate(x_k, labels, targets)
            x_max, f_max, g_max = x_k, f_k, g_k
            found, x_found = wrong, x_k
            eta = tf.fill([batch], 2.0 * self._eps)
            x_prev = x_k
            increases = tf.zeros([batch], tf.float32)
            f_max_at_mark, halved_at_mark = f_max, tf.zeros([batch], tf.bool)
            last_mark = tf.constant(0, tf.int32)
            for i in tf.range(self.steps):
                z = self._project(x, x_k + per_example(eta, x_k) * self.step.direction(g_k))
                if i == 0:  # the first step has no momentum
                    x_next = z
                else:
                    x_next = self._project(x, x_k + self.alpha * (z - x_k) + (1.0 - self.alpha) * (x_k - x_prev))
                f_next, g_next, wrong = self._evaluate(x_next, labels, targets)
                increases += tf.cast(f_next > f_k, tf.float32)
                x_found = self._where(wrong & ~found, x_next, x_found)
                found = found | wrong
                better = f_next > f_max
                x_max, f_max, g_max = (
                    self._where(better, x_next, x_max),
                    tf.where(better, f_next, f_max),
                    self._where(better, g_next, g_max),
                )
                x_prev, x_k, f_k, g_k = x_k, x_next, f_next, g_next
                at_mark = tf.reduce_any(tf.equal(i + 1, marks))
                if at_mark:
                    span = tf.cast(i + 1 - last_mark, tf.float32)
                    halve = (increases < self.rho * span) | (~halved_at_mark & (f_max <= f_max_at_mark))
                    eta = tf.where(halve, 0.5 * eta, eta)
                    x_k, f_k, g_k = (
                        self._where(halve, x_max, x_k),
                        tf.where(halve, f_max, f_k),
                        self._where(halve, g_max, g_k),
                    )
                    x_prev = self._where(halve, x_k, x_prev)
                    increases = tf.zeros_like(increases)
                    f_max_at_mark, halved_at_mark, last_mark = f_max, halve, i + 1
            candidate = self._where(found, x_found, x_max)
            cand_loss, cand_wrong = self._loss_and_wrong(candidate, labels, targets)  # forward only
            take = (cand_wrong & ~best_wrong) | ((cand_wrong == best_wrong) & (cand_loss > best_loss))
            best_x = self._where(take, candidate, best_x)
            best_loss, best_wrong = tf.where(take, cand_loss, best_loss), best_wrong | cand_wrong
        return best_x, best_wrong, best_loss
