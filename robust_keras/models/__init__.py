"""Model builders. Every model takes float32 NHWC inputs in [0, 1] and returns float32 logits;
input normalisation is the model's first layer, so attacks and exports work in pixel units."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from robust_keras.models.cnn import cnn_cifar, cnn_mnist
from robust_keras.models.resnet import resnet
from robust_keras.models.two_layer import two_layer


def build_model(
    name: str,
    input_shape: Sequence[int],
    num_classes: int,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    width: int = 512,
    parameterization: str = "standard",
    train_second_layer: bool = True,
    use_bias: bool = True,
    seed: int = 0,
) -> keras.Model:
    """Builds architecture ``name`` (see ``robust_keras.flags.models.MODELS``) with per-channel normalisation.

    Args:
      input_shape: (H, W, C) of one image.
      mean, std: per-channel statistics of the training images in [0, 1] units.
      seed: initialisation seed (Keras initialisers are seeded from it).
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="image")
    x = keras.layers.Normalization(mean=list(mean), variance=[s * s for s in std], name="normalize")(inputs)
    if name == "cnn_mnist":
        logits = cnn_mnist(x, num_classes)
    elif name == "cnn_cifar":
        logits = cnn_cifar(x, num_classes)
    elif name in ("resnet18", "resnet34", "resnet50"):
        logits = resnet(x, int(name[len("resnet") :]), num_classes)
    elif name == "two_layer":
        logits = two_layer(
            x,
            num_classes,
            width=width,
            parameterization=parameterization,
            train_second_layer=train_second_layer,
            use_bias=use_bias,
            seed=seed,
        )
    else:
        raise ValueError(f"unknown model {name!r}")
    # Logits leave the model in float32 even under a mixed_float16 policy.
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
    return keras.Model(inputs, logits, name=name)


def representation_model(model: keras.Model) -> keras.Model:
    """The penultimate-layer representation g of a functional model built by :func:`build_model`:
    the input of the last Dense layer on the path to the ``logits`` output (ResNets: the pooled
    features; CNNs: the last hidden layer; two_layer: the hidden ReLU units). (B, H, W, C) -> (B, F).

    Raises:
      ValueError: ``model`` has no Dense readout on its output path.
    """
    tensor = model.outputs[0]
    while True:
        layer = tensor._keras_history.operation
        if isinstance(layer, keras.layers.Dense):
            return keras.Model(model.inputs, layer.input, name=f"{model.name}_representation")
        if isinstance(layer, keras.layers.InputLayer) or not isinstance(layer.input, keras.KerasTensor):
            raise ValueError(f"{model.name} has no Dense readout on the path to its output")
        tensor = layer.input
