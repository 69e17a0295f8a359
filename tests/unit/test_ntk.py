"""Empirical NTK: closed form of the two-layer ReLU net, and the implementations against each other."""

import keras
import numpy as np
import pytest

from robust_keras.models import build_model
from robust_keras.ntk import empirical_ntk, structured, two_layer_relu_ntk, two_layer_relu_ntk_finite
from robust_keras.ntk.empirical import BLOCK_BYTES, CHUNK_BYTES, auto_chunk_size

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


@pytest.mark.parametrize("method", ["structured", "jacobian", "vp"])
def test_float64_precision_matches_the_exact_finite_width_formula(method):
    """precision='float64' runs a float64 copy of the model: every method agrees with the NumPy
    float64 formula on the same weights to ~1e-13 (float32 loses ~1e-5 at this width), on float64
    inputs that float32 cannot hold (a copy whose Input stayed float32 rounded them: 3e-8)."""
    d = 20
    model = _ntk_two_layer(d, 1, 100_000, train_second_layer=False, seed=0)
    x = RNG.normal(size=(6, d))  # float64
    assert np.abs(x - x.astype(np.float32)).max() > 0
    exact = two_layer_relu_ntk_finite(x, None, model.get_layer("hidden").kernel.numpy())
    theta = empirical_ntk(
        model, x.reshape(6, d, 1, 1), method=method, trace="sum", dtype=np.float64, precision="float64"
    )
    assert _rel_frob(theta, exact) < 1e-11
    assert model.trainable_variables[0].dtype == "float32"  # the caller's model is untouched


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


@pytest.mark.parametrize("policy,rtol", [("mixed_float16", 2e-2), ("mixed_bfloat16", 3e-2)])
def test_structured_kernel_of_a_mixed_precision_cnn_matches_float32(policy, rtol):
    """Under mixed precision the layers compute in float16 / bfloat16 with float32 variables
    (--mixed_precision); the structured kernel must follow them, close to the float32 kernel
    (bfloat16 keeps 8 significant bits against float16's 11)."""
    x = RNG.random((3, 28, 28, 1)).astype(np.float32)
    reference = build_model("cnn_mnist", (28, 28, 1), 4, mean=[0.1], std=[0.3], seed=0)
    want = empirical_ntk(reference, x, method="structured", trace="mean")
    keras.mixed_precision.set_global_policy(policy)
    try:
        mixed = build_model("cnn_mnist", (28, 28, 1), 4, mean=[0.1], std=[0.3], seed=0)
        mixed.set_weights(reference.get_weights())
        got = empirical_ntk(mixed, x, method="structured", trace="mean")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


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


def test_cnn_structured_jacobian_and_vp_agree_and_kernel_is_psd():
    model = build_model("cnn_mnist", (28, 28, 1), 4, mean=[0.1], std=[0.3], seed=0)
    assert structured.supports(model)
    x = RNG.random((3, 28, 28, 1)).astype(np.float32)
    a = empirical_ntk(model, x, method="jacobian", chunk_size=2, dtype=np.float64)
    b = empirical_ntk(model, x, method="vp", chunk_size=3, dtype=np.float64)
    c = empirical_ntk(model, x, method="auto", dtype=np.float64)
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3 * np.abs(a).max())
    np.testing.assert_allclose(c, a, rtol=1e-3, atol=1e-4 * np.abs(a).max())
    flat = a.transpose(0, 2, 1, 3).reshape(12, 12)  # (N O) x (N O) Gram matrix
    np.testing.assert_allclose(flat, flat.T, rtol=1e-4, atol=1e-4 * np.abs(flat).max())
    assert np.linalg.eigvalsh(flat).min() > -1e-3 * np.abs(flat).max()


@pytest.mark.parametrize("n1,n2", [(2, 3), (3, 2)])
def test_structured_convolutions_match_jacobians(n1, n2):
    """Strided/valid/biasless convs, max and global pooling, a frozen Dense: every rule of the
    structured path against plain Jacobians, full and traced."""
    inputs = keras.Input((9, 8, 2))
    h = keras.layers.Conv2D(3, (3, 2), strides=2, padding="same", activation="relu")(inputs)
    h = keras.layers.Conv2D(4, 2, padding="valid", use_bias=False, activation="tanh")(h)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.ZeroPadding2D(1)(h)
    h = keras.layers.Conv2D(5, 3, padding="valid", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    frozen = keras.layers.Dense(6, activation="relu")
    h = frozen(h)
    frozen.trainable = False
    model = keras.Model(inputs, keras.layers.Dense(3)(h))
    assert structured.supports(model)
    x1, x2 = RNG.normal(size=(n1, 9, 8, 2)), RNG.normal(size=(n2, 9, 8, 2))
    ref = empirical_ntk(model, x1, x2, method="jacobian", dtype=np.float64)
    got = empirical_ntk(model, x1, x2, method="structured", chunk_size=2, dtype=np.float64)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    traced = empirical_ntk(model, x1, x2, method="structured", trace="mean", dtype=np.float64)
    np.testing.assert_allclose(traced, np.trace(ref, axis1=2, axis2=3) / 3, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    # one input set, mirrored lower block triangle, terms recomputed per row chunk (no cache)
    both = np.concatenate([x1, x2])
    ref = empirical_ntk(model, both, method="jacobian", chunk_size=5, dtype=np.float64)
    got = empirical_ntk(model, both, method="structured", chunk_size=2, cache_bytes=0, dtype=np.float64)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


def test_layers_without_a_structured_rule_fall_back_to_jacobians():
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    h = keras.layers.BatchNormalization()(h)  # trainable scale and offset: no structured rule
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(h)))
    assert not structured.supports(model)
    x = RNG.normal(size=(3, 6, 6, 1))
    np.testing.assert_allclose(
        empirical_ntk(model, x, dtype=np.float64), empirical_ntk(model, x, method="vp", dtype=np.float64), rtol=1e-3
    )


class _Subclassed(keras.Model):
    """A subclassed model (no symbolic graph) with BatchNorm, which must run in inference mode."""

    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(6, activation="relu")
        self.norm = keras.layers.BatchNormalization()
        self.out = keras.layers.Dense(2)

    def call(self, x, training=False):
        return self.out(self.norm(self.hidden(x), training=training))


def test_subclassed_model_with_batchnorm_in_inference_mode():
    model = _Subclassed()
    x = RNG.normal(size=(4, 5)).astype(np.float32)
    model(x)
    model.norm.moving_mean.assign(RNG.normal(size=6))  # inference statistics differ from the batch's
    model.norm.moving_variance.assign(RNG.random(6) + 0.5)
    assert not structured.supports(model)
    auto = empirical_ntk(model, x, dtype=np.float64)  # -> jacobian
    np.testing.assert_allclose(auto, empirical_ntk(model, x, method="vp", dtype=np.float64), rtol=1e-4, atol=1e-6)
    # with only the readout trainable, Theta = (h . h' + 1) I, h the features after inference-mode BN
    model.hidden.trainable = model.norm.trainable = False
    h = model.norm(model.hidden(x), training=False).numpy().astype(np.float64)
    expected = (h @ h.T + 1)[:, :, None, None] * np.eye(2)
    np.testing.assert_allclose(empirical_ntk(model, x, dtype=np.float64), expected, rtol=1e-5, atol=1e-6)


def test_auto_chunk_size_keeps_blocks_and_work_bounded():
    model = build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.1], std=[0.3], seed=0)
    per_example = structured.bytes_per_example(model)
    full = auto_chunk_size(model, 10_000, "structured", None, 10)
    traced = auto_chunk_size(model, 10_000, "structured", "sum", 10)
    assert full * per_example <= CHUNK_BYTES and full**2 * 400 <= BLOCK_BYTES
    assert traced * per_example <= CHUNK_BYTES and traced >= full
    mlp = _mlp()  # tiny per-example terms: only the (c, c, O, O) block limits the full kernel
    assert auto_chunk_size(mlp, 10_000, "structured", "sum", 3) > auto_chunk_size(mlp, 10_000, "structured", None, 3)
    assert auto_chunk_size(model, 7, "structured", "sum", 10) == 7
    assert 1 <= auto_chunk_size(model, 10_000, "jacobian", None, 10) < full
