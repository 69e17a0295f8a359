"""Infinite-width NNGP/NTK (robust_keras.ntk.analytic) against closed forms, hand values, an
independent NumPy recursion and empirical NTKs of wide Keras nets."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from robust_keras.errors import ConfigError
from robust_keras.ntk import analytic as A
from robust_keras.ntk import empirical_ntk, two_layer_relu_ntk


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_two_layer_net_equals_the_closed_form_with_and_without_a_trained_readout():
    x = np.random.default_rng(0).normal(size=(7, 5))
    d = x.shape[1]
    for trained in (False, True):
        layers = [A.Dense(w_std=math.sqrt(d)), A.Relu(), A.Dense(w_std=1.0, trainable=trained)]
        _, ntk = A.analytic_kernels(layers, x, dtype=np.float64)
        # rtol 1e-7: acos near 1 turns a rounding of cos by 1 ulp into an angle of ~1e-8 (both sides)
        np.testing.assert_allclose(ntk, two_layer_relu_ntk(x, train_second_layer=trained), rtol=1e-7)
        off = ~np.eye(len(x), dtype=bool)
        np.testing.assert_allclose(ntk[off], two_layer_relu_ntk(x, train_second_layer=trained)[off], rtol=1e-12)


def test_hand_values_of_a_one_hidden_layer_kernel():
    """x = e1, x' = e2 (orthogonal, unit variance): Sigma_1 = 0, so after ReLU Sigma = 1/(2 pi) and
    the NTK is 1/(2 pi); for x with itself Sigma = 1/2 and Theta = 1/2 + 1 * 1/2 = 1."""
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]) * math.sqrt(2.0)  # per-feature variance 1, 1, 2
    layers = [A.Dense(), A.Relu(), A.Dense()]
    nngp, ntk = A.analytic_kernels(layers, x, dtype=np.float64)
    assert nngp[0, 1] == pytest.approx(1 / (2 * math.pi))
    assert ntk[0, 1] == pytest.approx(1 / (2 * math.pi))
    assert nngp[0, 0] == pytest.approx(0.5) and ntk[0, 0] == pytest.approx(1.0)
    # e1 vs e1 + e2: Sigma_1 = 1, variances 1 and 2, cos = 1/sqrt(2), t = pi/4
    t = math.pi / 4
    expected_nngp = math.sqrt(2) * (math.sin(t) + (math.pi - t) * math.cos(t)) / (2 * math.pi)
    assert nngp[0, 2] == pytest.approx(expected_nngp)
    assert ntk[0, 2] == pytest.approx(expected_nngp + 1.0 * (math.pi - t) / (2 * math.pi))


def _numpy_conv_kernel(x1, x2, depth, w2, b2):
    """Independent full-covariance recursion for SAME 3x3 Convs + ReLU, Flatten readout (loops)."""
    h, w = x1.shape[:2]

    def cov(a, b):
        return np.einsum("hwc,gvc->hwgv", a, b) / a.shape[-1]  # (H, W, H', W')

    def conv(k):
        out = np.zeros_like(k)
        padded = np.pad(k, 1)
        for dh in range(3):
            for dw in range(3):
                out += padded[dh : dh + h, dw : dw + w, dh : dh + h, dw : dw + w]
        return out / 9

    def relu(k, v1, v2):
        prod = np.sqrt(v1[:, :, None, None] * v2[None, None])
        c = np.clip(k / prod, -1, 1)
        t = np.arccos(c)
        return prod * (np.sin(t) + (np.pi - t) * c) / (2 * np.pi), (np.pi - t) / (2 * np.pi)

    k11, k22, k12 = cov(x1, x1), cov(x2, x2), cov(x2, x2) * 0 + cov(x1, x2)
    theta = np.zeros_like(k12)
    for _ in range(depth):
        k11, k22, k12 = (w2 * conv(k) + b2 for k in (k11, k22, k12))
        theta = w2 * conv(theta) + k12
        d1, d2 = np.einsum("hwhw->hw", k11), np.einsum("hwhw->hw", k22)
        k11, _ = relu(k11, d1, d1)
        k22, _ = relu(k22, d2, d2)
        k12, dot = relu(k12, d1, d2)
        theta = theta * dot
    nngp = np.einsum("hwhw->", k12) / (h * w) + b2  # readout sigma_w = 1 (A.architecture)
    return nngp, np.einsum("hwhw->", theta) / (h * w) + nngp


def test_conv_kernels_match_an_independent_numpy_recursion_on_the_diagonal_and_full_layouts():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 4, 2))
    layers = A.architecture("conv2", w_std=1.3, b_std=0.2)
    nngp, ntk = A.analytic_kernels(layers, x, dtype=np.float64)
    for i in range(3):
        for j in range(3):
            ref = _numpy_conv_kernel(x[i], x[j], 2, 1.3**2, 0.2**2)
            rel = 1e-12 if i != j else 1e-7  # acos at cos ~ 1 (see the two-layer test)
            assert nngp[i, j] == pytest.approx(ref[0], rel=rel)
            assert ntk[i, j] == pytest.approx(ref[1], rel=rel)
    # the same chain forced onto the full (H, H', W, W') layout by a 1x1 pooling gives the same kernel
    full = layers[:-2] + [A.AvgPool((1, 1))] + layers[-2:]
    nngp_full, ntk_full = A.analytic_kernels(full, x, dtype=np.float64)
    np.testing.assert_allclose(nngp_full, nngp, rtol=1e-7)
    np.testing.assert_allclose(ntk_full, ntk, rtol=1e-7)


def test_one_by_one_convolutions_with_global_pooling_on_constant_images_equal_the_dense_kernel():
    """A constant image is a vector repeated at every pixel; 1x1 convs act pixel-wise like Dense,
    and global pooling over identical pixels changes nothing."""
    v = np.random.default_rng(2).normal(size=(4, 3))
    images = np.broadcast_to(v[:, None, None, :], (4, 3, 3, 3)).copy()
    conv = [
        A.Conv(kernel_size=(1, 1), w_std=1.4, b_std=0.3),
        A.Relu(),
        A.Conv(kernel_size=(1, 1), w_std=1.4, b_std=0.3),
        A.Relu(),
        A.GlobalAvgPool(),
        A.Dense(w_std=0.9, b_std=0.1),
    ]
    dense = [
        A.Dense(w_std=1.4, b_std=0.3),
        A.Relu(),
        A.Dense(w_std=1.4, b_std=0.3),
        A.Relu(),
        A.Dense(w_std=0.9, b_std=0.1),
    ]
    for parameterization, units in (("ntk", None), ("standard", 7)):
        conv_p = [dataclass_units(layer, units) for layer in conv]
        dense_p = [dataclass_units(layer, units) for layer in dense]
        got = A.analytic_kernels(conv_p, images, parameterization=parameterization, dtype=np.float64)
        want = A.analytic_kernels(dense_p, v, parameterization=parameterization, dtype=np.float64)
        np.testing.assert_allclose(got, want, rtol=1e-7)  # acos at cos ~ 1 on the diagonal


def dataclass_units(layer, units):
    import dataclasses

    return dataclasses.replace(layer, units=units) if isinstance(layer, (A.Dense, A.Conv)) else layer


def test_blocks_and_the_upper_triangle_give_the_unblocked_kernel_and_float32_is_close():
    x = np.random.default_rng(3).normal(size=(9, 4, 4, 1))
    layers = A.architecture("conv1")
    whole = A.analytic_kernels(layers, x, dtype=np.float64)
    blocked = A.analytic_kernels(layers, x, dtype=np.float64, block_size=4)
    cross = A.analytic_kernels(layers, x[:5], x, dtype=np.float64, block_size=2)
    np.testing.assert_allclose(blocked, whole, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(cross), np.asarray(whole)[:, :5], rtol=1e-13)
    single = A.analytic_kernels(layers, x)
    assert _rel(single[1], whole[1]) < 1e-6


def _keras_net(kind: str, width: int, seed: int, input_shape):
    keras.utils.set_random_seed(seed)
    init = dict(
        kernel_initializer=keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal"),
        bias_initializer=keras.initializers.RandomNormal(stddev=0.1),
    )
    readout = keras.layers.Dense(
        1,
        kernel_initializer=keras.initializers.VarianceScaling(1.0, "fan_in", "untruncated_normal"),
        bias_initializer=keras.initializers.RandomNormal(stddev=0.1),
    )
    if kind == "fc3":
        body = [keras.layers.Flatten()] + [keras.layers.Dense(width, activation="relu", **init) for _ in range(3)]
    else:  # conv2 with a pooling step and a global-pool readout: the full-covariance path
        body = [
            keras.layers.Conv2D(width, 3, padding="same", activation="relu", **init),
            keras.layers.AveragePooling2D(2),
            keras.layers.Conv2D(width, 3, padding="same", activation="relu", **init),
            keras.layers.GlobalAveragePooling2D(),
        ]
    return keras.Sequential([keras.Input(input_shape), *body, readout])


@pytest.mark.parametrize("kind,shape,widths", [("fc3", (3, 3, 2), (32, 512)), ("conv2", (6, 6, 1), (16, 256))])
def test_empirical_ntk_of_wide_keras_nets_converges_to_the_analytic_kernel(kind, shape, widths):
    """Standard parameterisation: the analytic kernel at the model's widths is the empirical NTK's
    leading term; the relative error falls like 1/sqrt(width) (mean over 3 initialisations)."""
    x = np.random.default_rng(4).normal(size=(4, *shape)).astype(np.float32)
    errors = []
    for width in widths:
        errs = []
        for seed in range(3):
            model = _keras_net(kind, width, seed, shape)
            layers = A.layers_from_keras(model)
            _, analytic = A.analytic_kernels(layers, x, parameterization="standard", dtype=np.float64)
            empirical = empirical_ntk(model, x, dtype=np.float64)[:, :, 0, 0]
            errs.append(_rel(empirical, analytic))
        errors.append(float(np.mean(errs)))
    ratio = math.sqrt(widths[1] / widths[0])  # 4x for 16x the width
    assert errors[1] < errors[0] / (ratio / 2), errors  # at least half the expected 1/sqrt(width) drop
    assert errors[1] < 0.15, errors


def test_kernel_fn_is_differentiable_and_agrees_with_the_matrix():
    x = np.random.default_rng(5).normal(size=(6, 4, 4, 1)).astype(np.float32)
    layers = A.architecture("conv1")
    fn = A.kernel_fn(layers, (4, 4, 1), block_size=4)
    flat = tf.constant(x.reshape(6, -1))
    probe = tf.Variable(flat[:2])
    with tf.GradientTape() as tape:
        k = fn(probe, flat)
        total = tf.reduce_sum(k)
    grad = tape.gradient(total, probe)
    _, ntk = A.analytic_kernels(layers, x[:2], x)
    np.testing.assert_allclose(k.numpy(), ntk, rtol=1e-5)
    assert np.all(np.isfinite(grad.numpy())) and np.abs(grad.numpy()).max() > 0


def test_refusals_name_the_problem():
    with pytest.raises(ConfigError, match="Dense on a spatial tensor"):
        A.analytic_kernels([A.Dense(), A.Relu(), A.Dense()], np.ones((2, 3, 3, 1)))
    with pytest.raises(ConfigError, match="units"):
        A.analytic_kernels([A.Dense(), A.Relu(), A.Dense()], np.ones((2, 3)), parameterization="standard")
    with pytest.raises(ConfigError, match="unknown architecture"):
        A.architecture("resnet2")
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="tanh", kernel_initializer="he_normal")]
    )
    with pytest.raises(ConfigError, match="activation"):
        A.layers_from_keras(model)
