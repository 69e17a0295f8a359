"""Structured NTK of dense networks: Theta without ever forming the Jacobian (METHODS §B).

For a Dense layer y = a W + b, its parameters contribute to Theta(x1, x2)_{o,o'}
    (a(x1) . a(x2) + [b trainable]) * (g_o(x1) . g_o'(x2)),   g_o(x) = df_o(x)/dy
with a the layer's input (N, H_in) and g its output cotangents (N, O, H_out). Summing over the
trainable Dense layers gives the exact empirical NTK. Parameter-free layers (Flatten, Activation,
ReLU, Normalization, Rescaling, Reshape, Dropout at inference) are applied as they are.
"""

from __future__ import annotations

import weakref

import keras
import tensorflow as tf

_PARAMETER_FREE = (
    keras.layers.Flatten,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.Normalization,
    keras.layers.Rescaling,
    keras.layers.Reshape,
    keras.layers.Dropout,
    keras.layers.InputLayer,
)


def _chain(model: keras.Model) -> list | None:
    """The model's layers in order if each consumes exactly the previous one's output, else None."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    try:
        sources = [model.inputs[0]] + [layer.output for layer in layers[:-1]]
        if len(model.inputs) != 1 or any(layer.input is not src for layer, src in zip(layers, sources)):
            return None
    except (AttributeError, ValueError):  # subclassed models have no symbolic graph to check
        return None
    return layers


def supports(model: keras.Model) -> bool:
    """True for sequential chains of Dense and parameter-free layers (trainable Dense only)."""
    layers = _chain(model)
    if not layers:
        return False
    for layer in layers:
        if isinstance(layer, keras.layers.Dense):
            continue
        if not isinstance(layer, _PARAMETER_FREE) or layer.trainable_weights:
            return False
    return any(isinstance(layer, keras.layers.Dense) and layer.trainable for layer in layers)


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> compiled features


def layer_features(model: keras.Model, x: tf.Tensor) -> list[tuple[tf.Tensor, tf.Tensor, bool]]:
    """For each trainable Dense layer: (input a (N, H_in), cotangents g (N, O, H_out), has bias).

    Compiled once per model (free batch dimension); eager pfor Jacobians would rebuild their
    graph on every call."""
    fn = _COMPILED.get(model)
    if fn is None:
        spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
        ref = weakref.ref(model)  # a strong reference in the value would keep the key alive forever
        fn = _COMPILED[model] = tf.function(lambda inp: _features(ref(), inp), input_signature=[spec])
    biases = [layer.use_bias for layer in _chain(model) if isinstance(layer, keras.layers.Dense) and layer.trainable]
    return [(a, g, b) for (a, g), b in zip(fn(tf.cast(x, tf.float32)), biases)]


def _features(model: keras.Model, x: tf.Tensor) -> list[tuple[tf.Tensor, tf.Tensor]]:
    with tf.GradientTape(persistent=True) as tape:
        a = x
        records = []
        for layer in _chain(model):
            if isinstance(layer, keras.layers.Dense):
                z = tf.matmul(a, layer.kernel)  # (N, H_out) pre-activation
                if layer.use_bias:
                    z = z + layer.bias
                if layer.trainable:
                    tape.watch(z)
                    records.append((a, z))
                a = layer.activation(z)
            else:
                a = layer(a, training=False)
        out = tf.cast(a, tf.float32)  # (N, O)
    features = [(tf.cast(inp, tf.float32), tape.batch_jacobian(out, z)) for inp, z in records]
    del tape
    return features


def kernel_block(feats1, feats2, trace: str | None) -> tf.Tensor:
    """Theta between two chunks from their layer features: (c1, c2, O, O), or traced (c1, c2)."""
    total = None
    for (a1, g1, bias), (a2, g2, _) in zip(feats1, feats2):
        inputs = tf.matmul(a1, a2, transpose_b=True) + (1.0 if bias else 0.0)  # (c1, c2)
        if trace:
            block = inputs * tf.einsum("aoh,boh->ab", g1, g2)
            if trace == "mean":
                block /= tf.cast(tf.shape(g1)[1], tf.float32)
        else:
            block = inputs[:, :, None, None] * tf.einsum("aoh,bph->abop", g1, g2)
        total = block if total is None else total + block
    return total
