"""Kernel predictors x -> Theta(x, X) alpha (B, O), differentiable in x: what NTK attacks
(``attacks/ntk.py``) and the eigen-feature studies attack.

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
