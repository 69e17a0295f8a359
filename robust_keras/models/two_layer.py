"""Two-layer ReLU networks f(x) = a^T relu(W^T x + b) / scale (docs/methods.md §B Eq. 41, §C).

``standard``: Keras default init (Glorot), trainable or fixed output layer, scale 1.
``ntk``: w_r ~ N(0, I), f(x) = (1/sqrt(m)) sum_r a_r relu(w_r^T x + b_r) with a_r = ±1 drawn
once and 1/sqrt(m) a fixed scale after the readout; this is exactly the network whose NTK has
the closed form of App. C (Eq. 41-42), with the second layer frozen or trained.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers


def two_layer(
    x,
    num_outputs: int,
    *,
    width: int,
    parameterization: str = "standard",
    train_second_layer: bool = True,
    use_bias: bool = True,
    seed: int = 0,
):
    """Flattened (B, d) inputs -> (B, num_outputs) logits through ``width`` ReLU units."""
    x = layers.Flatten()(x)  # (B, d)
    if parameterization == "ntk":
        hidden_init = keras.initializers.RandomNormal(stddev=1.0, seed=seed)
        rng = np.random.default_rng(seed + 1)
        out_init = keras.initializers.Constant(rng.choice([-1.0, 1.0], size=(width, num_outputs)))  # a_r = +-1
    else:
        hidden_init = "glorot_uniform"
        out_init = "glorot_uniform"
    h = layers.Dense(
        width,
        activation="relu",
        use_bias=use_bias,
        kernel_initializer=hidden_init,
        bias_initializer="zeros",
        name="hidden",
    )(x)
    out = layers.Dense(num_outputs, use_bias=False, kernel_initializer=out_init, name="readout")
    out.trainable = train_second_layer
    logits = out(h)
    if parameterization == "ntk":  # the 1/sqrt(m) is a constant, not part of a: gradients wrt a_r carry it
        logits = layers.Rescaling(1.0 / np.sqrt(width), name="ntk_scale")(logits)
    return logits
