"""The per-example attack objectives on logits z (B, K) and labels y (B,), written once for every
attack (docs/methods.md §D.1): cross-entropy, the margin max_{i != y} z_i - z_y, and the
difference-of-logits ratios of APGD (pi sorts z in decreasing order, t the target):

    DLR    = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)
    DLR-T  = -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)

All return float32 (B,); larger means closer to misclassifying y (to hitting t for DLR-T).
"""

from __future__ import annotations

import tensorflow as tf

TINY = 1e-12  # keeps a ratio or a normalisation finite when its denominator is exactly 0


def without_label(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """The logits (B, K) with each row's label entry set to -inf: their max is the largest other
    logit, their descending argsort ranks the other classes (the label last)."""
    return tf.where(tf.one_hot(labels, tf.shape(logits)[-1]) > 0, -float("inf"), logits)


def label_logit(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """z_y (B,)."""
    return tf.gather(logits, labels, batch_dims=1)


def largest_other(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """max_{i != y} z_i (B,)."""
    return tf.reduce_max(without_label(logits, labels), -1)


def cross_entropy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """-log softmax(z)_y (B,)."""
    return tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def margin(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """max_{i != y} z_i - z_y (B,): positive exactly when y is not the prediction."""
    return largest_other(logits, labels) - label_logit(logits, labels)


def dlr(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """DLR (B,), invariant to shifting and scaling the logits (needs K >= 3)."""
    ranked = tf.sort(logits, axis=-1, direction="DESCENDING")
    return -(label_logit(logits, labels) - largest_other(logits, labels)) / (ranked[:, 0] - ranked[:, 2] + TINY)


def dlr_targeted(logits: tf.Tensor, labels: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """DLR-T (B,) towards ``targets`` (needs K >= 4)."""
    ranked = tf.sort(logits, axis=-1, direction="DESCENDING")
    z_t = label_logit(logits, targets)
    return -(label_logit(logits, labels) - z_t) / (ranked[:, 0] - 0.5 * (ranked[:, 2] + ranked[:, 3]) + TINY)
