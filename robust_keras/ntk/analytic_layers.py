"""Layer descriptions for the infinite-width kernels of ``ntk.analytic`` (docs/methods.md §B.9):
the layer types, the NTK paper's FC{L}/CONV{L} architectures, their validation, and reading them
from a Keras ``Sequential``."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from robust_keras.errors import ConfigError


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Affine:
    """Fields of every affine layer; ``units`` (its output width) is needed for the standard
    parameterisation of the *next* affine layer only."""

    units: int | None = None
    w_std: float = 1.0
    b_std: float = 0.0
    trainable: bool = True
    use_bias: bool = True


@dataclasses.dataclass(frozen=True, kw_only=True)
class Dense(_Affine):
    """Fully connected layer."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Conv(_Affine):
    """2-D convolution with a (k_h, k_w) filter; padding ``same`` (TensorFlow's placement) or ``valid``."""

    kernel_size: tuple[int, int] = (3, 3)
    strides: tuple[int, int] = (1, 1)
    padding: str = "same"


@dataclasses.dataclass(frozen=True)
class Relu:
    pass


@dataclasses.dataclass(frozen=True)
class AvgPool:
    """Average pooling with VALID padding (Keras' default)."""

    pool_size: tuple[int, int] = (2, 2)
    strides: tuple[int, int] | None = None


@dataclasses.dataclass(frozen=True)
class Flatten:
    pass


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool:
    pass


PARAMETERIZATIONS = ("ntk", "standard")


def architecture(name: str, w_std: float = math.sqrt(2.0), b_std: float = 0.1) -> list:
    """The NTK paper's kernels (App. D.2): ``fc<L>`` = Flatten, L x (Dense, ReLU), Dense readout;
    ``conv<L>`` = L x (3x3 SAME Conv, ReLU), Flatten, Dense readout. sigma_w^2 = 2 keeps the
    pre-activation variance constant through ReLU layers; sigma_b = 0.1."""
    kind, depth = name.rstrip("0123456789"), name[len(name.rstrip("0123456789")) :]
    if kind not in ("fc", "conv") or not depth or int(depth) < 1:
        raise ConfigError(f"unknown architecture {name!r}", "use fc1..fc5 or conv1, conv2 (any depth >= 1 works)")
    body = []
    for _ in range(int(depth)):
        body += [Dense(w_std=w_std, b_std=b_std) if kind == "fc" else Conv(w_std=w_std, b_std=b_std), Relu()]
    head = [Flatten()] if kind == "conv" else []
    return ([Flatten()] if kind == "fc" else []) + body + head + [Dense(w_std=1.0, b_std=b_std)]


def needs_full_spatial(layers) -> bool:
    return any(isinstance(layer, (AvgPool, GlobalAvgPool)) for layer in layers)


def validate(layers, spatial: bool, parameterization: str) -> None:
    if parameterization not in PARAMETERIZATIONS:
        raise ConfigError(f"unknown parameterization {parameterization!r}", f"use one of {PARAMETERIZATIONS}")
    if not layers or not isinstance(layers[-1], (Dense, Conv)):
        raise ConfigError("the analytic kernel needs an affine readout layer last", "end the chain with Dense")
    for layer in layers:
        if isinstance(layer, (Conv, AvgPool)) and not spatial:
            raise ConfigError(f"{type(layer).__name__} after Flatten/GlobalAvgPool", "pool or convolve before it")
        if isinstance(layer, Dense) and spatial:
            raise ConfigError("Dense on a spatial tensor", "put Flatten or GlobalAvgPool before the first Dense")
        if isinstance(layer, (Flatten, GlobalAvgPool)):
            spatial = False
        if isinstance(layer, Conv) and layer.padding not in ("same", "valid"):
            raise ConfigError(f"Conv padding {layer.padding!r}", "use 'same' or 'valid'")
    if parameterization == "standard":
        affine = [layer for layer in layers if isinstance(layer, (Dense, Conv))]
        if any(layer.units is None for layer in affine[:-1]):
            raise ConfigError("the standard parameterisation needs every hidden layer's units", "set units=...")


def layers_from_keras(model) -> list:
    """Layer descriptions of a Keras ``Sequential`` of Dense, Conv2D, ReLU, AveragePooling2D,
    Flatten and GlobalAveragePooling2D layers (standard parameterisation: Keras trains W itself).

    sigma_w is read from the kernel initializer: ``VarianceScaling(mode="fan_in")`` (He/LeCun)
    gives sqrt(scale); ``RandomNormal(stddev=s)`` gives s sqrt(fan_in); sigma_b from a ``Zeros`` or
    ``RandomNormal`` bias initializer. Anything else is refused with the layer's name."""
    import keras

    out = []
    for layer in model.layers:
        name = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            out.append(_affine_from_keras(layer))
            activation = keras.activations.serialize(layer.activation)
            activation = activation if isinstance(activation, str) else activation.get("config", {}).get("name")
            if activation == "relu":
                out.append(Relu())
            elif activation != "linear":
                raise ConfigError(f"layer {layer.name}: activation {activation!r}", "use relu or linear")
        elif isinstance(layer, keras.layers.ReLU) or (
            isinstance(layer, keras.layers.Activation) and getattr(layer.activation, "__name__", "") == "relu"
        ):
            out.append(Relu())
        elif isinstance(layer, keras.layers.AveragePooling2D):
            if layer.padding != "valid":
                raise ConfigError(f"layer {layer.name}: padding {layer.padding!r}", "use padding='valid'")
            out.append(AvgPool(tuple(layer.pool_size), tuple(layer.strides)))
        elif isinstance(layer, keras.layers.Flatten):
            out.append(Flatten())
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            out.append(GlobalAvgPool())
        else:
            raise ConfigError(f"layer {layer.name} ({name}) has no analytic kernel", "use Dense, Conv2D, ReLU, pooling")
    return out


def _affine_from_keras(layer):
    import keras

    kernel = layer.kernel
    fan_in = int(np.prod(kernel.shape[:-1]))
    init = layer.kernel_initializer
    if isinstance(init, keras.initializers.RandomNormal) and init.mean == 0:
        w_std = init.stddev * math.sqrt(fan_in)
    elif isinstance(init, keras.initializers.VarianceScaling) and init.mode == "fan_in":
        w_std = math.sqrt(init.scale)
    else:
        raise ConfigError(
            f"layer {layer.name}: kernel initializer {type(init).__name__} has no fixed sigma_w",
            "use RandomNormal(stddev) or VarianceScaling(mode='fan_in') (e.g. he_normal)",
        )
    b_std = 0.0
    if layer.use_bias:
        b_init = layer.bias_initializer
        if isinstance(b_init, keras.initializers.RandomNormal) and b_init.mean == 0:
            b_std = b_init.stddev
        elif not isinstance(b_init, keras.initializers.Zeros):
            raise ConfigError(
                f"layer {layer.name}: bias initializer {type(b_init).__name__}", "use Zeros or RandomNormal"
            )
    common = dict(w_std=w_std, b_std=b_std, trainable=layer.trainable, use_bias=layer.use_bias)
    if isinstance(layer, keras.layers.Dense):
        return Dense(units=layer.units, **common)
    if tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
        raise ConfigError(f"layer {layer.name}: dilation/groups", "use a plain Conv2D")
    return Conv(
        units=layer.filters,
        kernel_size=tuple(layer.kernel_size),
        strides=tuple(layer.strides),
        padding=layer.padding,
        **common,
    )
