"""Threat models as small step classes (after MadryLab/robustness ``attack_steps``).

Each step knows three things about its ball {δ : ||δ|| <= eps}: a random start inside it, the
steepest-ascent direction of a gradient under its norm, and the projection back onto it.
Tensors are (B, ...) per-example batches; norms are taken over all non-batch axes.
"""

from __future__ import annotations

import tensorflow as tf

from robust_keras.attacks.losses import TINY


def per_example(v: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """A per-example vector (B,) reshaped to (B, 1, ..., 1) to broadcast against ``like``.
    With a static rank (attacks trace with fixed image shapes) the target shape is a constant, so
    an attack step pays one reshape, not a shape computation."""
    if like.shape.rank is not None:
        return tf.reshape(v, [-1] + [1] * (like.shape.rank - 1))
    return tf.reshape(v, tf.concat([tf.shape(v), tf.ones([tf.rank(like) - 1], tf.int32)], 0))


def _per_example_norm(t: tf.Tensor) -> tf.Tensor:
    """l2 norm of each example, shaped (B, 1, ..., 1) to broadcast against ``t``."""
    axes = list(range(1, t.shape.rank)) if t.shape.rank is not None else tf.range(1, tf.rank(t))
    return tf.sqrt(tf.reduce_sum(tf.square(t), axis=axes, keepdims=True))


class LinfStep:
    """l-inf ball: uniform random start, sign-gradient steps, coordinate-wise clipping."""

    def __init__(self, eps: float):
        self.eps = eps

    def random_init(self, shape: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        return tf.random.stateless_uniform(shape, seed, -self.eps, self.eps)

    def direction(self, grad: tf.Tensor) -> tf.Tensor:
        return tf.sign(grad)

    def project(self, delta: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(delta, -self.eps, self.eps)


class L2Step:
    """l2 ball: random start uniform in the ball, normalised-gradient steps, radial projection."""

    def __init__(self, eps: float):
        self.eps = eps

    def random_init(self, shape: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        seeds = tf.random.experimental.stateless_split(seed, 2)
        direction = tf.random.stateless_normal(shape, seeds[0])
        direction = direction / (_per_example_norm(direction) + TINY)
        dim = tf.cast(tf.reduce_prod(shape[1:]), tf.float32)
        radius = tf.random.stateless_uniform(tf.concat([shape[:1], tf.ones_like(shape[1:])], 0), seeds[1])
        return direction * self.eps * radius ** (1.0 / dim)  # uniform in the ball

    def direction(self, grad: tf.Tensor) -> tf.Tensor:
        return grad / (_per_example_norm(grad) + TINY)

    def project(self, delta: tf.Tensor) -> tf.Tensor:
        norm = _per_example_norm(delta)
        return delta * tf.minimum(1.0, self.eps / (norm + TINY))


def make_step(norm: str, eps: float) -> LinfStep | L2Step:
    if norm == "linf":
        return LinfStep(eps)
    if norm == "l2":
        return L2Step(eps)
    raise ValueError(f"unknown norm {norm!r}; use 'l2' or 'linf'")
