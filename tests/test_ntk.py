"""Empirical NTK: closed form of the two-layer ReLU net, and the implementations against each other."""

import keras
import numpy as np
import pytest

from robust_keras.models import build_model
from robust_keras.ntk import empirical_ntk, structured, two_layer_relu_ntk, two_layer_relu_ntk_finite

RNG = np.random.default_rng(0)


def _rel_frob(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def _ntk_two_layer(d, outputs, width, train_second_layer, seed):
    return build_model(
        "two_layer",
        (d, 1, 1),
        outputs,
        mean=[0.0],
        std=[1.0],
        width=width,
        parameterization="ntk",
        train_second_layer=train_second_layer,
        use_bias=False,
        seed=seed,
    )


def test_two_layer_relu_matches_closed_forms_at_width_1e4():
    d = 16
    model = _ntk_two_layer(d, 2, 10_000, train_second_layer=False, seed=3)
    x = RNG.normal(size=(5, d)).astype(np.float32)
    theta = empirical_ntk(model, x.reshape(5, d, 1, 1), method="structured", dtype=np.float64)  # (5, 5, 2, 2)
    w = model.get_layer("hidden").kernel.numpy()
    for o in range(2):  # each output's block: exact finite-width form, and the infinite width within 1/sqrt(m)
        np.testing.assert_allclose(theta[:, :, o, o], two_layer_relu_ntk_finite(x, None, w), rtol=1e-4, atol=1e-4)
        assert _rel_frob(theta[:, :, o, o], two_layer_relu_ntk(x)) < 2e-2
    cross = theta[:, :, 0, 1]  # independent +-1 readouts: cross-output kernel ~ 0
    assert np.linalg.norm(cross) < 0.05 * np.linalg.norm(theta[:, :, 0, 0])


def test_two_layer_relu_with_trained_second_layer_matches_its_closed_form():
    d = 6
    model = _ntk_two_layer(d, 1, 20_000, train_second_layer=True, seed=1)
    x = RNG.normal(size=(4, d)).astype(np.float32)
    theta = empirical_ntk(model, x.reshape(4, d, 1, 1), trace="sum", dtype=np.float64)
    assert _rel_frob(theta, two_layer_relu_ntk(x, train_second_layer=True)) < 2e-2


def _mlp(outputs=3):
    inputs = keras.Input((2, 3, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(7, activation="tanh")(h)
    h = keras.layers.Dense(5, activation="relu")(h)
    return keras.Model(inputs, keras.layers.Dense(outputs)(h))


@pytest.mark.parametrize("n1,n2", [(2, 3), (3, 2)])
def test_implementations_agree_on_an_mlp(n1, n2):
    model = _mlp()
    assert structured.supports(model)
    x1, x2 = RNG.normal(size=(n1, 2, 3, 1)), RNG.normal(size=(n2, 2, 3, 1))
    ref = empirical_ntk(model, x1, x2, method="jacobian", dtype=np.float64)
    assert ref.shape == (n1, n2, 3, 3)
    for method, chunk in (("structured", 2), ("vp", 1), ("structured", 64)):
        np.testing.assert_allclose(
            empirical_ntk(model, x1, x2, method=method, chunk_size=chunk), ref, rtol=1e-4, atol=1e-5
        )
    np.testing.assert_allclose(
        empirical_ntk(model, x1, x2, trace="sum"), np.trace(ref, axis1=2, axis2=3), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        empirical_ntk(model, x1, x2, trace="mean"), np.trace(ref, axis1=2, axis2=3) / 3, rtol=1e-4, atol=1e-5
    )


def test_cnn_with_jacobian_and_vp_agree_and_kernel_is_psd():
    model = build_model("cnn_mnist", (28, 28, 1), 4, mean=[0.1], std=[0.3], seed=0)
    assert not structured.supports(model)
    x = RNG.random((3, 28, 28, 1)).astype(np.float32)
    a = empirical_ntk(model, x, method="auto", chunk_size=2, dtype=np.float64)
    b = empirical_ntk(model, x, method="vp", chunk_size=3, dtype=np.float64)
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3 * np.abs(a).max())
    flat = a.transpose(0, 2, 1, 3).reshape(12, 12)  # (N O) x (N O) Gram matrix
    np.testing.assert_allclose(flat, flat.T, rtol=1e-4, atol=1e-4 * np.abs(flat).max())
    assert np.linalg.eigvalsh(flat).min() > -1e-3 * np.abs(flat).max()
