"""Full-batch gradient descent theta <- theta - eta * grad L(theta) over the whole training set.

``steps`` GD steps run inside one compiled graph (a ``tf.while_loop``), so a diagnostics
interval of N steps costs one Python call, not N. Losses (docs/methods.md §C):
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
    with step eta follows df/dt = -eta Theta (f - Y), the dynamics of Eq. 7). Computed in float32
    whatever the outputs' dtype (a head run in float16 / bfloat16 under --mixed_precision)."""
    outputs = tf.cast(outputs, tf.float32)
    if kind == "mse":
        return 0.5 * tf.reduce_sum(tf.square(outputs - labels))
    if kind == "logistic":
        signs = 2.0 * tf.cast(labels, tf.float32) - 1.0
        return tf.reduce_mean(tf.nn.softplus(-signs * outputs[:, 0]))
    if kind == "cross_entropy":
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, outputs, from_logits=True))
    raise ValueError(f"unknown loss {kind!r}")


class _FullBatchData:
    """What both GD engines share: the model, the training set held on the device, the loss."""

    def __init__(self, model: keras.Model, x: np.ndarray, labels: np.ndarray, loss: str, learning_rate: float):
        self.model, self.loss, self.lr = model, loss, learning_rate
        self.x = tf.constant(x, tf.float32)  # (n, d)
        self.labels = tf.constant(labels, tf.float32 if loss == "mse" else tf.int64)
        self.step_count = 0

    def loss_value(self) -> float:
        return float(full_batch_loss(self.loss, self.model(self.x, training=False), self.labels))


class FullBatchGD(_FullBatchData):
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
        super().__init__(model, x, labels, loss, learning_rate)
        self.perturb = perturb
        self._steps = tf.function(self._run_steps, jit_compile=jit_compile)
        self._one = tf.function(self._step, jit_compile=jit_compile)

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


class DualFullBatchGD(_FullBatchData):
    """The same GD steps as :class:`FullBatchGD` for a net whose only trainable layer is its first
    Dense layer ("hidden", y = x W + b), run on the pre-activations instead of the weights.

    With P = X W + 1 b^T (n, H) and G = dL/dP, a GD step W -= eta X^T G, b -= eta 1^T G is exactly
    P -= eta (X X^T + 1 1^T) G. The Gram matrix K = X X^T + 1 1^T (n, n) is formed once, so a step
    costs one (n, n) x (n, H) product instead of two (n, d) x (d, H) ones over X, and W itself is
    rebuilt, W = W_0 - eta X^T S with S = sum of all G, only when :meth:`sync` is called (before
    diagnostics or evaluation), which also resets P = X W + b to cancel float32 drift. Worth it
    when n < 2d (k-cluster setting: n = 1000, d = 3072). No ``perturb`` (adversarial) support:
    adversarial inputs change X every step.
    """

    def __init__(
        self,
        model: keras.Model,
        x: np.ndarray,
        labels: np.ndarray,
        *,
        loss: str,
        learning_rate: float,
        jit_compile: bool = False,
    ):
        hidden = model.get_layer("hidden")
        if [id(v) for v in model.trainable_variables] != [id(v) for v in hidden.trainable_variables]:
            raise ValueError("DualFullBatchGD needs the 'hidden' Dense layer to hold all trainable variables")
        super().__init__(model, x, labels, loss, learning_rate)
        self.hidden = hidden
        n = int(self.x.shape[0])
        self.gram = tf.matmul(self.x, self.x, transpose_b=True) + (1.0 if hidden.use_bias else 0.0)  # (n, n)
        self.w0 = tf.identity(hidden.kernel)
        self.b0 = tf.identity(hidden.bias) if hidden.use_bias else None
        units = int(hidden.kernel.shape[1])
        self.pre = tf.Variable(tf.zeros([n, units]), trainable=False)  # P
        self.sum_grads = tf.Variable(tf.zeros([n, units]), trainable=False)  # S
        head = model.layers[model.layers.index(hidden) + 1 :]
        self._head = lambda p: _apply(head, hidden.activation(p))
        self._steps = tf.function(self._run_steps, jit_compile=jit_compile)
        self.sync()

    def _run_steps(self, steps):
        loss = tf.constant(0.0)
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                tape.watch(self.pre)
                loss = full_batch_loss(self.loss, self._head(self.pre), self.labels)
            grad = tape.gradient(loss, self.pre)  # G (n, H)
            self.pre.assign_sub(self.lr * tf.matmul(self.gram, grad))
            self.sum_grads.assign_add(grad)
        return loss

    def run(self, steps: int) -> float:
        loss = self._steps(tf.constant(steps, tf.int32))
        self.step_count += steps
        self.sync()
        return float(loss)

    def sync(self) -> None:
        """Writes W = W_0 - eta X^T S (and b) into the model and resets P = X W + b."""
        self.hidden.kernel.assign(self.w0 - self.lr * tf.matmul(self.x, self.sum_grads, transpose_a=True))
        pre = tf.matmul(self.x, self.hidden.kernel)
        if self.b0 is not None:
            self.hidden.bias.assign(self.b0 - self.lr * tf.reduce_sum(self.sum_grads, axis=0))
            pre += self.hidden.bias
        self.pre.assign(pre)


def _apply(layers, h):
    for layer in layers:
        h = layer(h)
    return h
