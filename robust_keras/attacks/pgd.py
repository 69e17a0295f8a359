"""Projected gradient descent (Madry et al. 2018) with restarts and a target-aware best iterate.

The whole attack -- restarts, steps, best-iterate bookkeeping -- is one ``tf.function`` traced
once per image shape (the batch dimension is left free), so attacking a dataset batch by batch
never retraces. Inputs and outputs are float32 images in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from robust_keras.attacks import losses
from robust_keras.attacks.steps import make_step, per_example
from robust_keras.errors import ModelError

LogitsFn = Callable[[tf.Tensor], tf.Tensor]


class PGD:
    """PGD in an l-inf or l2 ball around x, intersected with the [0, 1] box.

    Targeted attacks minimise the cross-entropy of the target label; untargeted ones maximise
    the cross-entropy of the true label. Over all restarts and iterates, each example keeps the
    best point: first by success (target hit / misclassified), then by loss (lowest target loss
    / highest true-label loss).

    ``loss="margin"`` uses the margin max_{j != c} z_j - z_c (c: the label, or the target) in place
    of c's cross-entropy. For two classes CE_c = softplus(-(z_c - z_other)) is a monotone function
    of it, and the steps (sign / normalised gradient) and best-iterate tests only see the gradient's
    direction and the order of loss values, so the iterates are the same in exact arithmetic -- but
    not in float32: the softmax rounds the label's probability to 1, so CE and its gradient are
    exactly zero once z_c leads by ~17 (measured: 1.2e-7 at 16, 0 at 17; ~90 when the leading logit
    is the other one of (0, f)), and CE-PGD stops there (e.g. feature averaging's nets after
    training to zero loss, and its hand-built f_robust, margin d/2).

    Args:
      logits_fn: maps float32 (B, ...) in [0, 1] to float32 (B, K) logits (a Keras model, a
        loaded SavedModel endpoint, ...).
      norm: ``"linf"`` or ``"l2"``.
      eps: radius of the ball in pixel units.
      step_size: size of one step (pixel units, under the same norm).
      steps: iterations per restart.
      restarts: independent runs; restart r > 0 always starts at a random point.
      random_start: whether restart 0 starts at a random point too (else at x).
      targeted: labels passed to ``__call__`` are targets to reach rather than labels to leave.
      clip: (low, high) box the inputs live in, or None for unbounded inputs (synthetic data).
      keep_best: return each example's best point over all iterates (including x itself when
        no step helps); False returns the last iterate of the last restart (plain PGD / FGSM).
      loss: ``"ce"`` (cross-entropy) or ``"margin"`` (see above).
    """

    def __init__(
        self,
        logits_fn: LogitsFn,
        *,
        norm: str,
        eps: float,
        step_size: float,
        steps: int,
        restarts: int = 1,
        random_start: bool = False,
        targeted: bool = False,
        jit_compile: bool = False,
        clip: tuple[float, float] | None = (0.0, 1.0),
        keep_best: bool = True,
        loss: str = "ce",
    ):
        if loss not in ("ce", "margin"):
            raise ValueError(f"unknown PGD loss {loss!r}; use 'ce' or 'margin'")
        self.logits_fn, self.loss = logits_fn, loss
        self.keep_best = keep_best
        # Budget as variables: set_budget() changes it without retracing the compiled attack.
        self._eps = tf.Variable(float(eps), trainable=False, dtype=tf.float32)
        self._step_size = tf.Variable(float(step_size), trainable=False, dtype=tf.float32)
        self.step = make_step(norm, self._eps)
        self.steps = steps
        self.restarts = restarts
        self.random_start = random_start
        self.targeted = targeted
        self._jit_compile = jit_compile
        self.clip = clip
        self._compiled: dict[tuple[int, ...], Callable] = {}

    def set_budget(self, eps: float, step_size: float) -> None:
        """Changes eps and the step size for later calls (same compiled graph)."""
        self._eps.assign(float(eps))
        self._step_size.assign(float(step_size))

    def __call__(self, x, labels, seed=(0, 0)) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Attacks a batch.

        Args:
          x: float32 (B, ...) clean inputs in [0, 1].
          labels: int (B,) targets if ``targeted`` else true labels.
          seed: two ints, the stateless seed of the random starts.
        Returns:
          x_adv float32 (B, ...), success bool (B,), loss float32 (B,) at x_adv.
        """
        x = tf.convert_to_tensor(x, tf.float32)
        key = tuple(x.shape[1:])
        if key not in self._compiled:
            if x.shape[0] and self.logits_fn(x[:1]).shape[-1] == 1:  # one probe per input shape
                raise ModelError(
                    "the attacked model has one output; cross-entropy attacks need one logit per class",
                    "give the model K >= 2 logits (a binary task: two), or attack its margin with your own loss",
                )
            spec = [
                tf.TensorSpec([None, *key], tf.float32),
                tf.TensorSpec([None], tf.int64),
                tf.TensorSpec([2], tf.int64),
            ]
            self._compiled[key] = tf.function(self._attack, input_signature=spec, jit_compile=self._jit_compile)
        return self._compiled[key](x, tf.cast(labels, tf.int64), tf.cast(seed, tf.int64))

    def _loss_and_success(self, x_adv, labels):
        logits = tf.cast(self.logits_fn(x_adv), tf.float32)  # (B, K)
        loss = losses.cross_entropy(logits, labels) if self.loss == "ce" else losses.margin(logits, labels)
        hit = tf.argmax(logits, axis=-1, output_type=tf.int64) == labels
        return loss, (hit if self.targeted else tf.logical_not(hit))

    def _better(self, loss, success, best_loss, best_success):
        loss_better = loss < best_loss if self.targeted else loss > best_loss
        return (success & ~best_success) | ((success == best_success) & loss_better)

    def _attack(self, x, labels, seed):
        sign = -1.0 if self.targeted else 1.0
        batch = tf.shape(x)[0]
        best_x = x
        best_loss = tf.fill([batch], float("inf") if self.targeted else -float("inf"))
        best_success = tf.zeros([batch], tf.bool)
        for restart in tf.range(self.restarts):
            restart_seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(restart, tf.int64))
            delta = self.step.random_init(tf.shape(x), restart_seed)
            use_random = tf.logical_or(restart > 0, self.random_start)
            x_adv = self._box(x + tf.where(use_random, delta, tf.zeros_like(delta)))
            for _ in tf.range(self.steps):
                with tf.GradientTape() as tape:
                    tape.watch(x_adv)
                    loss, success = self._loss_and_success(x_adv, labels)
                grad = tape.gradient(loss, x_adv)
                if self.keep_best:  # the iterate whose loss was just computed competes for best
                    better = self._better(loss, success, best_loss, best_success)
                    best_x, best_loss, best_success = self._select(
                        better, x_adv, loss, success, best_x, best_loss, best_success
                    )
                x_adv = x_adv + sign * self._step_size * self.step.direction(grad)
                x_adv = self._box(x + self.step.project(x_adv - x))
            loss, success = self._loss_and_success(x_adv, labels)  # the last iterate
            better = self._better(loss, success, best_loss, best_success) if self.keep_best else tf.fill([batch], True)
            best_x, best_loss, best_success = self._select(
                better, x_adv, loss, success, best_x, best_loss, best_success
            )
        return best_x, best_success, best_loss

    def _box(self, x):
        return x if self.clip is None else tf.clip_by_value(x, self.clip[0], self.clip[1])

    @staticmethod
    def _select(better, x_adv, loss, success, best_x, best_loss, best_success):
        return (
            tf.where(per_example(better, x_adv), x_adv, best_x),
            tf.where(better, loss, best_loss),
            tf.where(better, success, best_success),
        )


def fgsm(logits_fn: LogitsFn, *, norm: str, eps: float, targeted: bool = False, keep_best: bool = False) -> PGD:
    """FGSM (l-inf) / FGM (l2): one step of size eps from x (PGD with ``steps=1``). ``keep_best``
    returns x itself where the step does not help (``--attack=fgsm_best``); plain FGSM does not."""
    return PGD(logits_fn, norm=norm, eps=eps, step_size=eps, steps=1, targeted=targeted, keep_best=keep_best)
