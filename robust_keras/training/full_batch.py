"""Full-batch gradient descent theta <- theta - eta * grad L(theta) over the whole training set.

``steps`` GD steps run inside one compiled graph (a ``tf.while_loop``), so a diagnostics
interval of N steps costs one Python call, not N. Losses (METHODS §C):
  logistic:       L = (1/n) sum_i log(1 + exp(-s_i f(x_i))),  s_i = 2 y_i - 1, f: (B, 1) margin
  cross_entropy:  L = (1/n) sum_i CE(y_i, f(x_i)),  f: (B, K) logits
  mse:            L = (1/2) sum_i ||f(x_i) - y_i||^2,  y: (B, K) float targets (NTK paper Sec. 3.2)
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf


def full_batch_loss(kind: str, outputs: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Loss over the batch; ``labels`` int (n,) in {0,1} (logistic) or [0, K) (cross_entropy), both
    means; or float targets (n, K) for ``mse`` = (1/2) sum_i ||f(x_i) - y_i||^2 (a sum, so that GD
    with step eta follows df/dt = -eta Theta (f - Y), the dynamics of Eq. 7)."""
    if kind == "mse":
        return 0.5 * tf.reduce_sum(tf.square(outputs - labels))
    if kind == "logistic":
        signs = 2.0 * tf.cast(labels, tf.float32) - 1.0
        return tf.reduce_mean(tf.nn.softplus(-signs * outputs[:, 0]))
    if kind == "cross_entropy":
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, outputs, from_logits=True))
    raise ValueError(f"unknown loss {kind!r}")


class FullBatchGD:
    """Plain GD (no momentum) on ``model``'s trainable variables over fixed (x, labels).

    Args:
      x: float32 (n, d) training inputs (held on the device once).
      labels: int (n,) labels for ``loss``.
      learning_rate: eta.
      perturb: optional (x, labels) -> x' applied before every step (adversarial training);
        then each step is one Python call.
    """

    def __init__(
        self,
        model: keras.Model,
        x: np.ndarray,
        labels: np.ndarray,
        *,
        loss: str,
        learning_rate: float,
        perturb: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
        jit_compile: bool = False,
    ):
        self.model = model
        self.loss = loss
        self.lr = learning_rate
        self.perturb = perturb
        self.x = tf.constant(x, tf.float32)
        self.labels = tf.constant(labels, tf.float32 if loss == "mse" else tf.int64)
        self._steps = tf.function(self._run_steps, jit_compile=jit_compile)
        self._one = tf.function(self._step, jit_compile=jit_compile)
        self.step_count = 0

    def _step(self, x, labels):
        with tf.GradientTape() as tape:
            loss = full_batch_loss(self.loss, self.model(x, training=True), labels)
        grads = tape.gradient(loss, self.model.trainable_variables)
        for v, g in zip(self.model.trainable_variables, grads):
            v.assign_sub(self.lr * g)
        return loss

    def _run_steps(self, steps):
        loss = tf.constant(0.0)
        for _ in tf.range(steps):
            loss = self._step(self.x, self.labels)
        return loss

    def run(self, steps: int) -> float:
        """Takes ``steps`` GD steps; returns the loss before the last one."""
        if self.perturb is None:
            loss = self._steps(tf.constant(steps, tf.int32))
        else:
            for _ in range(steps):
                loss = self._one(self.perturb(self.x, self.labels), self.labels)
        self.step_count += steps
        return float(loss)

    def loss_value(self) -> float:
        return float(full_batch_loss(self.loss, self.model(self.x, training=False), self.labels))
