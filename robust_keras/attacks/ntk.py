"""NTK attacks (NTK paper Eq. 8, 18-21; docs/methods.md §B) on the kernel predictor f(x) = Theta(x, X) alpha.

For an empirical kernel, Theta(x, X) alpha = J(x) u with u = J(X)^T alpha, a fixed direction in
parameter space: u is one VJP over the training set, and f(x) is one JVP at x -- Theta(x, X) is
never formed, and no trained weights are needed (the kernel is taken at the given parameters).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


class EmpiricalKernelPredictor:
    """x -> J(x) u (B, O) with u = J(X)^T alpha, differentiable in x.

    Args:
      model: the network whose empirical NTK (at its current parameters) defines the predictor.
      x_train: (N, ...) training inputs X; alpha: (N, O) dual coefficients (see KernelRegression).
      batch_size: chunk for the VJP over X.
    """

    def __init__(self, model: keras.Model, x_train, alpha, batch_size: int = 256):
        self.model = model
        self.variables = model.trainable_variables
        self._tf_variables = [getattr(v, "value", v) for v in self.variables]
        alpha = tf.constant(np.asarray(alpha, np.float32))
        u = [tf.zeros_like(v) for v in self.variables]
        for start in range(0, len(x_train), batch_size):
            x = tf.constant(np.asarray(x_train[start : start + batch_size], np.float32))
            with tf.GradientTape() as tape:
                out = tf.cast(model(x, training=False), tf.float32)  # (b, O)
                weighted = tf.reduce_sum(out * alpha[start : start + batch_size])
            grads = tape.gradient(weighted, self.variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            u = [a + g for a, g in zip(u, grads)]
        self.u = u  # J(X)^T alpha, one tensor per variable

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        with tf.autodiff.ForwardAccumulator(self._tf_variables, self.u) as acc:
            out = tf.cast(self.model(x, training=False), tf.float32)
        return acc.jvp(out)  # (B, O)


class ClosedFormKernelPredictor:
    """x -> Theta(x, X) alpha (B, O) for a kernel with identity output structure, differentiable in x.

    Args:
      kernel_fn: (B, D), (N, D) -> (B, N) differentiable kernel on flattened inputs, e.g.
        ``closed_form.two_layer_relu_ntk_tf``.
      x_train: (N, ...) training inputs X; alpha: (N, O) dual coefficients.
    """

    def __init__(self, kernel_fn, x_train, alpha):
        self.kernel_fn = kernel_fn
        self.x_train = tf.constant(np.asarray(x_train, np.float32).reshape(len(x_train), -1))
        self.alpha = tf.constant(np.asarray(alpha, np.float32))

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        flat = tf.reshape(x, [tf.shape(x)[0], -1])
        return tf.matmul(tf.cast(self.kernel_fn(flat, self.x_train), tf.float32), self.alpha)


OBJECTIVES = ("binary", "ce", "max_of_k", "sum_of_k")


def ascent_direction(predict, x: tf.Tensor, y, objective: str, eps: float) -> tf.Tensor:
    """sign of the input gradient of the attack objective, the l-inf steepest ascent direction.

    Objectives (NTK paper Eq. 8, 18-21, 33, 35; docs/methods.md §B):
      binary    y in {-1, +1}, predict (B, 1): maximise -y f(x).
      ce        y int labels, predict (B, K): maximise CE(softmax f(x), y); its gradient is
                (df/dx)^T (softmax f - onehot y).
      sum_of_k  maximise sum_{k != y} (f_k - f_y): the first-order cross-entropy with equal
                weights on the wrong classes, which is what it is when the outputs regress
                one-hot targets (Eq. 35).
      max_of_k  maximise f_k* - f_y for the wrong class k* whose margin would be largest after the
                step: k* = argmax_{k != y} f_k - f_y + eps ||grad_x (f_k - f_y)||_1 (Eq. 33).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown NTK attack objective {objective!r}; use one of {OBJECTIVES}")
    if objective == "max_of_k":
        return _max_of_k_direction(predict, x, y, eps)
    with tf.GradientTape() as tape:
        tape.watch(x)
        f = predict(x)  # (B, O)
        if objective == "binary":
            value = -tf.reduce_sum(tf.cast(tf.reshape(y, [-1, 1]), f.dtype) * f)
        elif objective == "ce":
            value = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, f, from_logits=True))
        else:
            value = tf.reduce_sum(_margins(f, y))
    return tf.sign(tape.gradient(value, x))


def _margins(f: tf.Tensor, y) -> tf.Tensor:
    """f_k - f_y for every class k (B, K); 0 at k = y."""
    return f - tf.gather(f, y, axis=1, batch_dims=1)[:, None]


def _max_of_k_direction(predict, x: tf.Tensor, y, eps: float) -> tf.Tensor:
    with tf.GradientTape() as tape:
        tape.watch(x)
        margins = _margins(predict(x), y)
    grads = tape.batch_jacobian(margins, x)  # (B, K, ...): the gradient of every f_k - f_y
    l1 = tf.reduce_sum(tf.abs(tf.reshape(grads, [tf.shape(grads)[0], tf.shape(grads)[1], -1])), axis=2)
    is_label = tf.one_hot(y, tf.shape(margins)[1]) > 0
    eps = tf.reshape(tf.cast(eps, margins.dtype), [-1, 1])  # a scalar, or one per example: (B, 1)
    score = tf.where(is_label, tf.constant(-np.inf, margins.dtype), margins + eps * l1)  # (B, K)
    return tf.sign(tf.gather(grads, tf.argmax(score, axis=1), axis=1, batch_dims=1))


def attack_predictor(
    predict, x, y, eps: float, *, objective: str, steps: int = 1, step_size: float | None = None, clip=(0.0, 1.0)
) -> np.ndarray:
    """l-inf attack on a (kernel) predictor: FGSM for steps = 1 (step = eps), else ``steps`` sign
    steps of ``step_size`` (default 2.5 eps / steps) projected onto the eps-ball around x.

    Args:
      predict: differentiable x (B, ...) -> (B, O), e.g. EmpiricalKernelPredictor.
      y: {-1, +1} for ``objective="binary"``, else int labels (B,).
      eps: the budget, one number or one per example (B,) (e.g. a pixel budget on rescaled inputs).
      clip: (low, high) of valid inputs, each a number or one per example (B,); or None.
    """
    x0 = tf.convert_to_tensor(np.asarray(x, np.float32))
    y = tf.constant(np.asarray(y))
    per_example = lambda v: tf.reshape(tf.cast(v, tf.float32), [-1] + [1] * (x0.shape.rank - 1))  # noqa: E731
    eps_x = per_example(eps)
    step = eps_x if steps == 1 else (per_example(step_size) if step_size else 2.5 * eps_x / steps)
    x_adv = x0
    for _ in range(steps):
        x_adv = x_adv + step * ascent_direction(predict, x_adv, y, objective, eps)
        x_adv = tf.clip_by_value(x_adv, x0 - eps_x, x0 + eps_x)
        if clip is not None:
            x_adv = tf.clip_by_value(x_adv, per_example(clip[0]), per_example(clip[1]))
    return x_adv.numpy()
