"""Structured NTK of dense and convolutional chains: Theta without the full Jacobian (docs/methods.md §B).

Theta(x1, x2) = sum over trainable layers l of J_l(x1) J_l(x2)^T, and each layer's term is built
from what the layer sees (Novak et al. 2022, "structured derivatives"):

  Dense  y = a W + b   (a(x1) . a(x2) + [bias]) * (g_o(x1) . g_o'(x2)),  g_o = df_o/dy,
                       with a the layer input (N, H_in) and g (N, O, H_out): J_l is never formed.
  Conv2D y = a * W + b per-example weight Jacobians J_l (N, O, kh kw C_in C_out) and (N, O, C_out)
                       from the input patches and g: sum over output positions p of patch_p(a) g_o,p.
                       Convolutions hold few parameters, so J_l is small next to the Dense layers'.

Parameter-free layers (Flatten, activations, pooling, Normalization, Rescaling, Reshape, padding,
Dropout at inference) are applied as they are. Models outside this family (BatchNorm with
trainable scale, residual graphs, subclassed models) use the Jacobian path in ``empirical``.
"""

from __future__ import annotations

import dataclasses
import weakref

import keras
import numpy as np
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
    keras.layers.AveragePooling2D,
    keras.layers.MaxPooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.ZeroPadding2D,
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


def _plain_conv(layer) -> bool:
    return (
        type(layer) is keras.layers.Conv2D
        and layer.data_format == "channels_last"
        and layer.groups == 1
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.padding in ("same", "valid")
    )


def supports(model: keras.Model) -> bool:
    """True for chains of Dense, plain Conv2D (channels_last, no groups/dilation) and parameter-free
    layers, with at least one trainable Dense or Conv2D layer."""
    layers = _chain(model)
    if not layers:
        return False
    for layer in layers:
        if isinstance(layer, keras.layers.Dense) or _plain_conv(layer):
            continue
        if not isinstance(layer, _PARAMETER_FREE) or layer.trainable_weights:
            return False
    return any(layer.trainable_weights for layer in layers)


@dataclasses.dataclass
class DenseTerm:
    """One Dense layer's factors: inputs a (N, H_in), output cotangents g (N, O, H_out)."""

    a: tf.Tensor
    g: tf.Tensor
    bias: bool

    @property
    def nbytes(self) -> int:
        return 4 * (self.a.shape.num_elements() + self.g.shape.num_elements())

    @property
    def tensors(self) -> tuple[tf.Tensor, ...]:
        return self.a, self.g

    def block(self, other: DenseTerm, trace: str | None) -> tf.Tensor:
        inputs = tf.matmul(self.a, other.a, transpose_b=True) + (1.0 if self.bias else 0.0)  # (c1, c2)
        return _outer_gram(self.g, other.g, trace) * (inputs if trace else inputs[:, :, None, None])


@dataclasses.dataclass
class JacobianTerm:
    """One layer's per-example Jacobian j (N, O, P_l) over its own parameters."""

    j: tf.Tensor

    @property
    def nbytes(self) -> int:
        return 4 * self.j.shape.num_elements()

    @property
    def tensors(self) -> tuple[tf.Tensor, ...]:
        return (self.j,)

    def block(self, other: JacobianTerm, trace: str | None) -> tf.Tensor:
        return _outer_gram(self.j, other.j, trace)


def _outer_gram(u: tf.Tensor, v: tf.Tensor, trace: str | None) -> tf.Tensor:
    """u (c1, O, H), v (c2, O, H) -> sum_h u[a,o,h] v[b,p,h] as (c1, c2, O, O), or its trace over o = p
    as (c1, c2) -- one matmul either way."""
    o, h = tf.shape(u)[1], tf.shape(u)[2]  # dynamic: the compiled block serves every model
    if trace:
        return tf.matmul(tf.reshape(u, [-1, o * h]), tf.reshape(v, [-1, o * h]), transpose_b=True)
    grams = tf.matmul(tf.reshape(u, [-1, h]), tf.reshape(v, [-1, h]), transpose_b=True)  # (c1 O, c2 O)
    return tf.transpose(tf.reshape(grams, [tf.shape(u)[0], o, tf.shape(v)[0], o]), [0, 2, 1, 3])


def kernel_block(terms1: list, terms2: list, trace: str | None) -> tf.Tensor:
    """Theta between two chunks from their layer terms: (c1, c2, O, O), or traced (c1, c2).

    ``trace="sum"`` sums the output diagonal, ``"mean"`` averages it. One compiled graph per term
    layout (chunk sizes are free), differentiable in the terms."""
    kinds = tuple(getattr(t, "bias", None) for t in terms1)  # None marks a JacobianTerm
    return _compiled_block(kinds, [t.tensors for t in terms1], [t.tensors for t in terms2], trace)


@tf.function(reduce_retracing=True)
def _compiled_block(kinds, tensors1, tensors2, trace):
    return _sum_blocks(_rebuild(kinds, tensors1), _rebuild(kinds, tensors2), trace)


def _rebuild(kinds, tensors) -> list[DenseTerm | JacobianTerm]:
    return [JacobianTerm(*t) if bias is None else DenseTerm(*t, bias) for bias, t in zip(kinds, tensors)]


def _sum_blocks(terms1: list, terms2: list, trace: str | None) -> tf.Tensor:
    total = tf.add_n([t1.block(t2, trace) for t1, t2 in zip(terms1, terms2)])
    outputs = tf.cast(tf.shape(terms1[0].tensors[-1])[1], total.dtype)  # every term's last tensor is (N, O, H)
    return total / outputs if trace == "mean" else total


def accumulation_dtype(model: keras.Model) -> tf.DType:
    """float64 for a model whose weights are all float64 (see ``empirical.float64_copy``), else
    float32 (also under mixed precision): the dtype of inputs, outputs, cotangents and kernel blocks."""
    weights = model.trainable_variables
    return tf.float64 if weights and all(v.dtype == "float64" for v in weights) else tf.float32


def bytes_per_example(model: keras.Model) -> int:
    """float32 bytes of one example's terms plus its output cotangents, for choosing chunk sizes."""
    o, total = int(model.output_shape[-1]), 0
    for layer in _chain(model):
        if not layer.trainable_weights:
            continue
        out = int(np.prod(layer.output.shape[1:]))
        if isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.input.shape[1:])) + o * out
        else:
            total += o * out + o * int(sum(np.prod(w.shape) for w in layer.trainable_weights))
    return 4 * total


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> compiled _terms
_SELF_KERNEL: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {trace: x -> Theta(x, x)}


def layer_terms(model: keras.Model, x: tf.Tensor) -> list[DenseTerm | JacobianTerm]:
    """The NTK factors at inputs x (N, ...) of each trainable layer of ``model`` (see ``supports``):
    one DenseTerm per Dense layer, a JacobianTerm per Conv2D kernel and bias.

    Compiled once per model with a free batch dimension; eager pfor Jacobians would rebuild their
    graph on every call."""
    fn = _COMPILED.get(model)
    if fn is None:
        ref = weakref.ref(model)  # a strong reference in the value would keep the key alive forever
        fn = _COMPILED[model] = tf.function(lambda inp: _terms(ref(), inp), input_signature=[_input_spec(model)])
    return _wrap(model, fn(tf.cast(x, accumulation_dtype(model))))


def self_kernel(model: keras.Model, x: tf.Tensor, trace: str | None) -> tf.Tensor:
    """Theta(x, x) in one compiled graph, terms and contraction fused: (N, N[, O, O]). For inputs
    that fit one chunk, where separate graph calls would cost more than the work at small N."""
    fns = _SELF_KERNEL.setdefault(model, {})
    if trace not in fns:
        ref = weakref.ref(model)

        def fn(inp):
            terms = _wrap(ref(), _terms(ref(), inp))
            return _sum_blocks(terms, terms, trace)

        fns[trace] = tf.function(fn, input_signature=[_input_spec(model)])
    return fns[trace](tf.cast(x, accumulation_dtype(model)))


def _input_spec(model: keras.Model) -> tf.TensorSpec:
    return tf.TensorSpec([None, *model.input_shape[1:]], accumulation_dtype(model))


def _wrap(model: keras.Model, tensors: list[tuple[tf.Tensor, ...]]) -> list[DenseTerm | JacobianTerm]:
    """The compiled _terms output as term objects, in layer order."""
    layers = [layer for layer in _chain(model) if layer.trainable_weights]
    terms = []
    for layer, parts in zip(layers, tensors):
        if isinstance(layer, keras.layers.Dense):
            terms.append(DenseTerm(*parts, bias=layer.use_bias))
        else:  # kernel and bias Jacobians as separate terms: no concatenated copy
            terms.extend(JacobianTerm(j) for j in parts)
    return terms


def _pre_activation(layer, a: tf.Tensor) -> tf.Tensor:
    """The layer's affine map in its compute dtype (float16 under mixed precision, as its own call
    autocasts the float32 variables)."""
    kernel = tf.cast(layer.kernel, a.dtype)
    if isinstance(layer, keras.layers.Dense):
        z = tf.matmul(a, kernel)  # (N, H_out)
    else:
        z = layer.convolution_op(a, kernel)  # (N, H', W', C_out)
    return z + tf.cast(layer.bias, a.dtype) if layer.use_bias else z


def _conv_jacobians(layer, a: tf.Tensor, g: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """d f_o / d kernel (N, O, kh kw C_in C_out) and, with a bias, d f_o / d bias (N, O, C_out),
    per example, from the layer input a (N, H, W, C_in) and cotangents g (N, O, H', W', C_out):
    sum over output positions p of patch_p(a) (x) g_p, one broadcast batched matmul."""
    kh, kw = layer.kernel_size
    sh, sw = layer.strides
    patches = tf.image.extract_patches(
        a, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1], rates=[1, 1, 1, 1], padding=layer.padding.upper()
    )  # (N, H', W', kh kw C_in), the layer's own strides and padding
    n, o, c = tf.shape(g)[0], g.shape[1], g.shape[-1]
    positions = g.shape[2] * g.shape[3]
    patches = tf.transpose(tf.reshape(patches, [n, 1, positions, -1]), [0, 1, 3, 2])  # (N, 1, K, P)
    g = tf.reshape(g, [n, o, positions, c])
    kernel = tf.reshape(tf.matmul(patches, g), [n, o, -1])  # (N, O, K C_out), broadcast over O
    return (kernel, tf.reduce_sum(g, axis=2)) if layer.use_bias else (kernel,)


def _terms(model: keras.Model, x: tf.Tensor) -> list[tuple[tf.Tensor, ...]]:
    with tf.GradientTape(persistent=True) as tape:
        a = x
        records = []
        for layer in _chain(model):
            if layer.trainable_weights:
                z = _pre_activation(layer, a)
                tape.watch(z)
                records.append((layer, a, z))
                a = layer.activation(z)
            else:  # parameter-free or frozen: no term
                a = layer(a, training=False)
        dtype = accumulation_dtype(model)
        out = tf.cast(a, dtype)  # (N, O)
    terms = []
    for layer, inp, z in records:
        g = tf.cast(tape.batch_jacobian(out, z), dtype)  # (N, O, *z.shape[1:])
        inp = tf.cast(inp, dtype)
        terms.append((inp, g) if isinstance(layer, keras.layers.Dense) else _conv_jacobians(layer, inp, g))
    del tape
    return terms
