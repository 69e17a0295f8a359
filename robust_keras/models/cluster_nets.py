"""Two-layer ReLU nets on vectors for the feature-averaging setting (docs/methods.md §C).

``binary_net``: f(x) = (1/m) sum_r relu(<w_{+1,r}, x> + b_{+1,r}) - (1/m) sum_r relu(<w_{-1,r}, x> + b_{-1,r})
with the second layer fixed; hidden units 0..m-1 carry sign +1, m..2m-1 sign -1. Output (B, 1).
``multiclass_net``: f_i(x) = relu(<w_i, x>), i in [k], trained with cross-entropy on cluster labels;
its binary readout is g(x) = sum_{i in J+} f_i(x) - sum_{i in J-} f_i(x).
``robust_net``: the hand-built f_robust of the poster: one neuron per cluster centre, bias b
filtering the noise, +-1 readout.
Init: w ~ N(0, s^2 I/d), b ~ N(0, s^2/d^2); the poster's s = 1, the experiment's default s = 0.1
(see docs/methods.md §C.1 for why).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf


def _hidden(units: int, d: int, seed: int, use_bias: bool, init_scale: float) -> keras.layers.Dense:
    return keras.layers.Dense(
        units,
        activation="relu",
        use_bias=use_bias,
        kernel_initializer=keras.initializers.RandomNormal(stddev=init_scale / np.sqrt(d), seed=seed),
        bias_initializer=keras.initializers.RandomNormal(stddev=init_scale / d, seed=seed + 1),
        name="hidden",
    )


def _fixed_readout(weights: np.ndarray) -> keras.layers.Dense:
    layer = keras.layers.Dense(
        weights.shape[1], use_bias=False, kernel_initializer=keras.initializers.Constant(weights), name="readout"
    )
    layer.trainable = False
    return layer


def binary_net(d: int, m: int, seed: int = 0, init_scale: float = 1.0) -> keras.Model:
    """(B, d) -> (B, 1) margin f(x); 2m hidden units, fixed readout +-1/m."""
    inputs = keras.Input((d,), name="x")
    h = _hidden(2 * m, d, seed, use_bias=True, init_scale=init_scale)(inputs)  # (B, 2m)
    signs = np.concatenate([np.ones(m), -np.ones(m)])[:, None] / m  # (2m, 1)
    return keras.Model(inputs, _fixed_readout(signs)(h), name="binary_net")


def multiclass_net(d: int, k: int, seed: int = 0, use_bias: bool = False, init_scale: float = 1.0) -> keras.Model:
    """(B, d) -> (B, k) outputs f_i(x) = relu(<w_i, x> (+ b_i)), used as logits."""
    inputs = keras.Input((d,), name="x")
    return keras.Model(inputs, _hidden(k, d, seed, use_bias, init_scale)(inputs), name="multiclass_net")


def robust_net(centres: np.ndarray, positive: Sequence[int], bias: float) -> keras.Model:
    """f_robust(x) = sum_{j in J+} relu(<mu_j, x> + b) - sum_{l in J-} relu(<mu_l, x> + b); (B, d) -> (B, 1)."""
    k, d = centres.shape
    inputs = keras.Input((d,), name="x")
    hidden = keras.layers.Dense(
        k,
        activation="relu",
        kernel_initializer=keras.initializers.Constant(centres.T),
        bias_initializer=keras.initializers.Constant(np.full(k, bias)),
        name="hidden",
    )
    return keras.Model(inputs, _fixed_readout(cluster_signs(k, positive)[:, None])(hidden(inputs)), name="f_robust")


def cluster_signs(k: int, positive: Sequence[int]) -> np.ndarray:
    """+1 for clusters in J+, -1 otherwise; float32 (k,)."""
    return np.where(np.isin(np.arange(k), positive), 1.0, -1.0).astype(np.float32)


def binary_margin(model: keras.Model, positive: Sequence[int] | None = None):
    """The binary margin function x -> float32 (B,) of a binary net (its output) or a multiclass
    net (its readout g = sum_{J+} f_i - sum_{J-} f_i), whatever the net's compute dtype."""
    if model.output_shape[-1] == 1:
        return lambda x: tf.cast(model(x, training=False)[:, 0], tf.float32)
    signs = tf.constant(cluster_signs(model.output_shape[-1], positive))
    return lambda x: tf.linalg.matvec(tf.cast(model(x, training=False), tf.float32), signs)


def margin_logits(margin_fn):
    """Two-class logits [0, f(x)]: their cross-entropy at label 1 is log(1 + e^{-f}), at 0 log(1 + e^{f})."""

    def logits(x):
        f = tf.cast(margin_fn(x), tf.float32)[:, None]  # (B, 1)
        return tf.concat([tf.zeros_like(f), f], axis=1)  # (B, 2)

    return logits
