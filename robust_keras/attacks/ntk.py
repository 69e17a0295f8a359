"""NTK attacks (NTK paper Eq. 8, 18-21; docs/methods.md §B) on a kernel predictor
f(x) = Theta(x, X) alpha (``ntk/predictors.py``) or any differentiable x -> outputs."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

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
