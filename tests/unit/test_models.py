"""Model builders: shapes, normalisation inside the model, parameter counts, two-layer options."""

import numpy as np
import pytest

from robust_keras.models import build_model


@pytest.mark.parametrize(
    "name,shape",
    [("cnn_mnist", (28, 28, 1)), ("cnn_cifar", (32, 32, 3)), ("two_layer", (28, 28, 1)), ("resnet18", (32, 32, 3))],
)
def test_logits_shape_and_dtype(name, shape):
    model = build_model(name, shape, 10, mean=[0.5] * shape[-1], std=[0.25] * shape[-1], width=16)
    out = model(np.random.rand(3, *shape).astype("float32"), training=False)
    assert out.shape == (3, 10) and out.dtype.name == "float32"
    assert model.layers[1].name == "normalize"


def test_resnet_parameter_counts_match_the_cifar_variants():
    # He et al. CIFAR-stem ResNets as in kuangliu/pytorch-cifar: 11.17M, 21.28M, 23.52M params.
    counts = {
        d: build_model(f"resnet{d}", (32, 32, 3), 10, mean=[0.5] * 3, std=[0.25] * 3).count_params()
        for d in (18, 34, 50)
    }
    trainable = {18: 11_173_962, 34: 21_282_122, 50: 23_520_842}
    for depth, n in counts.items():
        model_bn_stats = n - trainable[depth]
        assert 0 < model_bn_stats < 60_000, (depth, n)  # the rest: BN moving stats + normalisation


def test_normalisation_is_part_of_the_model():
    a = build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.0], std=[1.0], seed=1)
    b = build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.5], std=[0.5], seed=1)
    x = np.random.rand(2, 28, 28, 1).astype("float32")
    np.testing.assert_allclose(a(2 * x - 1), b(x), rtol=1e-4, atol=1e-5)  # same weights, shifted input stats


def test_two_layer_ntk_fixed_readout():
    model = build_model(
        "two_layer",
        (4, 1, 1),
        3,
        mean=[0.0],
        std=[1.0],
        width=1000,
        parameterization="ntk",
        train_second_layer=False,
        use_bias=False,
        seed=0,
    )
    readout = model.get_layer("readout").get_weights()[0]
    np.testing.assert_array_equal(np.abs(readout), 1.0)  # a_r = +-1, the 1/sqrt(m) is a fixed scale
    assert model.get_layer("ntk_scale").scale == pytest.approx(1 / np.sqrt(1000))
    assert [w.name for w in model.trainable_weights] == ["kernel"]
    hidden = model.get_layer("hidden").get_weights()[0]
    assert abs(hidden.std() - 1.0) < 0.05  # w_r ~ N(0, I)
