"""NTK attacks (NTK paper Eq. 8, 18-21; METHODS §B) on the kernel predictor f(x) = Theta(x, X) alpha.

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


def fgsm_on_predictor(predict, x, y, eps: float, *, binary: bool, clip=(0.0, 1.0)) -> np.ndarray:
    """One l-inf FGSM step against a kernel predictor.

    binary: y in {-1, +1}, predict -> (B, 1): x_adv = x - eps * y * sign(grad_x f(x)) (Eq. 8).
    multiclass: y int labels, predict -> (B, K): x_adv = x + eps * sign(grad_x CE(softmax f(x), y)).
    """
    x = tf.convert_to_tensor(np.asarray(x, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        f = predict(x)
        if binary:
            objective = -tf.reduce_sum(tf.constant(np.asarray(y, np.float32))[:, None] * f)
        else:
            objective = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, f, from_logits=True))
    x_adv = x + eps * tf.sign(tape.gradient(objective, x))
    return np.asarray(x_adv if clip is None else tf.clip_by_value(x_adv, *clip))
