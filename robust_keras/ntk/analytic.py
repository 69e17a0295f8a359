"""Infinite-width NNGP and NTK of chains of Dense, Conv2D, ReLU and pooling layers (docs/methods.md §B.9).

A network is described by a list of layers (``Dense``, ``Conv``, ``Relu``, ``AvgPool``, ``Flatten``,
``GlobalAvgPool``; defined in ``ntk.analytic_layers``, importable from here), or read from a
Keras ``Sequential`` of the same layers (``layers_from_keras``).
For inputs x, x' the recursion tracks, per pair of spatial positions, the covariance of the
pre-activations (the NNGP kernel Sigma) and the NTK Theta (Jacot et al. 2018; Arora et al. 2019;
Novak et al. 2019):

  input        Sigma_0(x, x')[p, p'] = mean_c x_c[p] x'_c[p']             (per-channel covariance)
  Dense/Conv   Sigma' = w^2 S(Sigma) + b^2,
               Theta' = w^2 S(Theta) + Sigma'                       (NTK parameterisation)
               Theta' = w^2 S(Theta) + fan_in S(Sigma) + 1          (standard parameterisation:
                                                                     W ~ N(0, w^2 / fan_in) itself trained)
               S = identity for Dense; for a k_h x k_w convolution the mean over the filter offsets d
               of Sigma[p + d, p' + d] (zero padding for SAME, then the stride).
  ReLU         with c = Sigma / sqrt(Sigma[x,x] Sigma[x',x']) = cos(t) (arc-cosine kernel, Cho & Saul 2009):
               Sigma' = sqrt(Sigma[x,x] Sigma[x',x']) (sin t + (pi - t) cos t) / (2 pi),
               Theta' = Theta (pi - t) / (2 pi).
  AvgPool      the mean over both windows: Sigma'[q, q'] = mean_{a, a'} Sigma[q s + a, q' s + a'].
  Flatten      mean over the spatial diagonal p = p'; GlobalAvgPool: mean over all p, p'.

A layer with ``trainable=False`` (e.g. the frozen readout of the two-layer net of NTK paper App. C)
propagates Theta without adding its own term. Without pooling, a Flatten readout only ever needs
Sigma[p, p] (every layer maps diagonal entries to diagonal entries), so those chains track
(N1, H, W, N2) (pair index last, so convolutions run as pooling over channels); pooling and global
pooling need the full (N1, N2, H, H, W, W) covariance.
The NTK-parameterisation kernel is the width -> infinity limit of the empirical NTK of the same
network; the standard-parameterisation kernel grows with the widths and is the leading-order value
of the empirical NTK at the given widths (both are tested against empirical kernels in
tests/unit/test_ntk_analytic.py).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import tensorflow as tf

from robust_keras.errors import ConfigError
from robust_keras.ntk import analytic_spatial as spatial
from robust_keras.ntk.analytic_layers import (  # noqa: F401  (re-exported: the layer API lives here too)
    AvgPool,
    Conv,
    Dense,
    Flatten,
    GlobalAvgPool,
    Relu,
    architecture,
    layers_from_keras,
    needs_full_spatial,
    validate,
)

BLOCK_BYTES = 64 * 2**20  # memory of one block's recursion when block_size is None (why: bench/RESULTS.md)
_TEMPORARIES = 8  # live tensors of a block's size during a ReLU step


class _State:
    """Kernels of one block of pairs. ``cov1`` (B1, *S1) / ``cov2`` (B2, *S1): each input's own
    covariance; ``nngp`` / ``ntk`` (B1, B2, *S2). Spatial layout S2 = (H, W) on the diagonal
    (``full`` False; stored (B1, H, W, B2)) or (H, H', W, W') (``full`` True); S1 the same with B2
    dropped."""

    def __init__(self, cov1, cov2, nngp, ntk, full: bool, channels: int):
        self.cov1, self.cov2, self.nngp, self.ntk, self.full, self.channels = cov1, cov2, nngp, ntk, full, channels


def _input_covariances(x1: tf.Tensor, x2: tf.Tensor, full: bool):
    """x (B, H, W, C) or (B, D) -> (cov1, cov2, nngp) per the input rule, mean over channels."""
    channels = x1.shape[-1]
    if x1.shape.rank == 2:
        cross = tf.matmul(x1, x2, transpose_b=True) / channels
        return tf.reduce_sum(x1 * x1, -1) / channels, tf.reduce_sum(x2 * x2, -1) / channels, cross
    if not full:
        self1 = tf.reduce_mean(x1 * x1, -1)  # (B1, H, W)
        self2 = tf.reduce_mean(x2 * x2, -1)
        cross = tf.einsum("ahwc,bhwc->ahwb", x1, x2) / channels
        return self1, self2, cross
    self1 = tf.einsum("ahwc,agvc->ahgwv", x1, x1) / channels  # (B1, H, H', W, W')
    self2 = tf.einsum("ahwc,agvc->ahgwv", x2, x2) / channels
    cross = tf.einsum("ahwc,bgvc->abhgwv", x1, x2) / channels
    return self1, self2, cross


def _arccos_terms(cov, var_product, differentiable: bool = True):
    """Sigma' and the derivative kernel (pi - t) / (2 pi) of the ReLU; ``var_product`` =
    Sigma[x,x] Sigma[x',x'] at each entry (same shape as cov). ``differentiable`` False takes a
    shorter path with the same values and no gradient care at |cos t| = 1."""
    if not differentiable:
        prod = tf.sqrt(var_product)  # a correctly rounded sqrt keeps cos t = 1 exact for x = x'
        c = tf.clip_by_value(cov / tf.maximum(prod, np.finfo(np.float64).tiny), -1.0, 1.0)
        angle = math.pi - tf.acos(c)  # pi - t
        nngp = (prod * tf.sqrt(1.0 - c * c) + angle * cov) / (2 * math.pi)
        return nngp, angle / (2 * math.pi)
    prod = tf.sqrt(var_product)
    tiny = tf.constant(np.finfo(cov.dtype.as_numpy_dtype).tiny, cov.dtype)
    c = cov / tf.maximum(prod, tiny)
    # exact t = 0 / pi at |c| >= 1 with a zero gradient there (acos' is infinite; the kernels below
    # have the finite derivative pi - t at c = 1, which the c-term alone gives)
    inside = tf.abs(c) < 1
    zeros = tf.zeros_like(c)
    t = tf.where(inside, tf.acos(tf.where(inside, c, zeros)), tf.where(c >= 1, zeros, zeros + math.pi))
    c = tf.clip_by_value(c, -1.0, 1.0)
    nngp = prod * (tf.sin(t) + (math.pi - t) * c) / (2 * math.pi)
    return nngp, (math.pi - t) / (2 * math.pi)


def _relu(s: _State, differentiable: bool) -> _State:
    if s.full:  # einsum: TensorFlow's CPU kernels do not broadcast rank-6 products
        d1, d2 = spatial.spatial_diag(s.cov1), spatial.spatial_diag(s.cov2)  # (B, H, W)
        cov1, _ = _arccos_terms(s.cov1, tf.einsum("ahw,agv->ahgwv", d1, d1), differentiable)
        cov2, _ = _arccos_terms(s.cov2, tf.einsum("ahw,agv->ahgwv", d2, d2), differentiable)
        products = tf.einsum("ahw,bgv->abhgwv", d1, d2)
    else:
        cov1, cov2 = s.cov1 / 2, s.cov2 / 2  # c = 1 on an input's own diagonal
        subscripts = "a,b->ab" if s.cov1.shape.rank == 1 else "ahw,bhw->ahwb"
        products = tf.einsum(subscripts, s.cov1, s.cov2)
    nngp, derivative = _arccos_terms(s.nngp, products, differentiable)
    return _State(cov1, cov2, nngp, s.ntk * derivative, s.full, s.channels)


def _affine(s: _State, layer, parameterization: str) -> _State:
    w2, b2 = layer.w_std**2, (layer.b_std**2 if layer.use_bias else 0.0)
    if isinstance(layer, Conv):
        pair_groups, own_groups = [(2, 3), (4, 5)], [(1, 2), (3, 4)]
        if s.full:
            shift_pair = lambda t: spatial.shift_mean(t, pair_groups, layer)  # noqa: E731
            shift_own = lambda t: spatial.shift_mean(t, own_groups, layer)  # noqa: E731
        else:
            shift_pair = shift_own = lambda t: spatial.box_filter(t, layer)  # noqa: E731
        fan_in = s.channels * layer.kernel_size[0] * layer.kernel_size[1]
    else:
        shift_pair = shift_own = lambda t: t  # noqa: E731
        fan_in = s.channels
    moved = shift_pair(s.nngp)
    nngp = w2 * moved + b2
    ntk = w2 * shift_pair(s.ntk)
    if layer.trainable:
        ntk = ntk + (nngp if parameterization == "ntk" else fan_in * moved + float(layer.use_bias))
    cov1, cov2 = w2 * shift_own(s.cov1) + b2, w2 * shift_own(s.cov2) + b2
    return _State(cov1, cov2, nngp, ntk, s.full, layer.units or 0)


def _readout_reduce(s: _State, layer) -> _State:
    """Flatten (mean over p = p') or GlobalAvgPool (mean over all p, p')."""
    if isinstance(layer, GlobalAvgPool):
        pair, own = [2, 3, 4, 5], [1, 2, 3, 4]
        cov1, cov2, nngp, ntk = (
            tf.reduce_mean(t, axes) for t, axes in ((s.cov1, own), (s.cov2, own), (s.nngp, pair), (s.ntk, pair))
        )
        return _State(cov1, cov2, nngp, ntk, False, s.channels)
    size = s.cov1.shape[1] * (s.cov1.shape[3] if s.full else s.cov1.shape[2])
    if s.full:
        cov1, cov2 = spatial.spatial_diag(s.cov1), spatial.spatial_diag(s.cov2)
        nngp, ntk = spatial.spatial_diag(s.nngp), spatial.spatial_diag(s.ntk)
        pair_axes = [2, 3]
    else:  # (B1, H, W, B2)
        cov1, cov2, nngp, ntk = s.cov1, s.cov2, s.nngp, s.ntk
        pair_axes = [1, 2]
    own = lambda t: tf.reduce_mean(t, [1, 2])  # noqa: E731
    pair = lambda t: tf.reduce_mean(t, pair_axes)  # noqa: E731
    return _State(own(cov1), own(cov2), pair(nngp), pair(ntk), False, s.channels * size)


def _pool(s: _State, layer: AvgPool) -> _State:
    strides = layer.strides or layer.pool_size

    def pool(t, axes):
        for axis, dim in zip(axes, (0, 0, 1, 1)):
            t = spatial.pool_axis(t, axis, layer.pool_size[dim], strides[dim])
        return t

    return _State(
        pool(s.cov1, [1, 2, 3, 4]),
        pool(s.cov2, [1, 2, 3, 4]),
        pool(s.nngp, [2, 3, 4, 5]),
        pool(s.ntk, [2, 3, 4, 5]),
        True,
        s.channels,
    )


def kernels_tf(
    layers, x1: tf.Tensor, x2: tf.Tensor, parameterization: str = "ntk", differentiable: bool = True
) -> tuple[tf.Tensor, tf.Tensor]:
    """(NNGP, NTK), each (B1, B2), of the network ``layers`` for inputs (B, H, W, C) or (B, D);
    computed in the inputs' dtype; with ``differentiable``, safe to differentiate in x1 and x2."""
    full = needs_full_spatial(layers)
    spatial = x1.shape.rank == 4
    validate(layers, spatial, parameterization)
    if spatial and isinstance(layers[0], Flatten):  # same kernel, no (B1, B2, H, W) intermediate
        x1, x2 = (tf.reshape(x, [-1, int(np.prod(x.shape[1:]))]) for x in (x1, x2))
        layers, spatial = layers[1:], False
    if not spatial:
        full = False
    cov1, cov2, nngp = _input_covariances(x1, x2, full)
    s = _State(cov1, cov2, nngp, tf.zeros_like(nngp), full, x1.shape[-1])
    for layer in layers:
        if isinstance(layer, (Dense, Conv)):
            s = _affine(s, layer, parameterization)
        elif isinstance(layer, Relu):
            s = _relu(s, differentiable)
        elif isinstance(layer, AvgPool):
            s = _pool(s, layer)
        elif isinstance(layer, (Flatten, GlobalAvgPool)):
            if spatial:
                s = _readout_reduce(s, layer)
            spatial = False
        else:
            raise ConfigError(f"layer {layer!r} has no analytic kernel", "use Dense, Conv, Relu, AvgPool, Flatten")
    return s.nngp, s.ntk


def _pair_bytes(layers, shape: tuple[int, ...], itemsize: int) -> int:
    """Bytes of one pair's recursion state (the largest spatial layout it passes through)."""
    if len(shape) == 1 or isinstance(layers[0], Flatten):  # fully connected from the start
        return _TEMPORARIES * itemsize
    h, w = shape[0], shape[1]
    spatial = (h * w) ** 2 if needs_full_spatial(layers) else h * w
    return _TEMPORARIES * itemsize * max(spatial, shape[-1])


def analytic_kernels(
    layers,
    x1: np.ndarray,
    x2: np.ndarray | None = None,
    *,
    parameterization: str = "ntk",
    dtype=np.float32,
    block_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """NNGP and NTK matrices (N1, N2) float64 of the network ``layers`` on inputs (N, H, W, C) or (N, D).

    Computed in ``dtype`` (float32: ~1e-6 relative; float64: ~1e-13, and ~1e-8 on pairs of nearly parallel
    inputs, where acos turns a 1-ulp rounding of cos t into an angle of ~sqrt(ulp)) in square blocks of
    ``block_size`` inputs per side (default: the largest whose recursion fits BLOCK_BYTES); with
    x2 None only the upper block triangle is computed and mirrored.
    """
    x1 = np.asarray(x1, dtype)
    validate(layers, x1.ndim == 4, parameterization)  # here, not inside the traced function
    symmetric = x2 is None
    x2 = x1 if symmetric else np.asarray(x2, dtype)
    per_pair = _pair_bytes(layers, x1.shape[1:], np.dtype(dtype).itemsize)
    size = block_size or max(1, int(math.sqrt(BLOCK_BYTES / per_pair)))
    step = _compiled(tuple(layers), parameterization)
    nngp, ntk = np.zeros((len(x1), len(x2))), np.zeros((len(x1), len(x2)))
    for i in range(0, len(x1), size):
        for j in range(i if symmetric else 0, len(x2), size):
            k, t = step(tf.constant(x1[i : i + size]), tf.constant(x2[j : j + size]))
            nngp[i : i + size, j : j + size], ntk[i : i + size, j : j + size] = k.numpy(), t.numpy()
            if symmetric and j != i:
                nngp[j : j + size, i : i + size], ntk[j : j + size, i : i + size] = k.numpy().T, t.numpy().T
    return nngp, ntk


@functools.lru_cache(maxsize=32)
def _compiled(layers: tuple, parameterization: str):
    """The forward-only kernel graph of one network, traced once per block shape and reused across
    calls (layer descriptions are frozen dataclasses, so the chain is a cache key)."""
    return tf.function(lambda a, b: kernels_tf(list(layers), a, b, parameterization, False), reduce_retracing=True)


def kernel_fn(layers, image_shape: tuple[int, ...], parameterization: str = "ntk", block_size: int | None = None):
    """Differentiable NTK function on flattened float32 inputs, (B, D), (N, D) -> (B, N), as
    ``ntk.predictors.ClosedFormKernelPredictor`` takes it. Blocks of ``block_size`` second inputs
    (default: as many as fit BLOCK_BYTES next to the B first inputs) are recomputed in the backward
    pass (``tf.recompute_grad``), so a gradient holds one block's recursion, not all of them."""
    validate(layers, len(image_shape) == 3, parameterization)
    per_pair = _pair_bytes(layers, tuple(image_shape), 4)

    @tf.recompute_grad
    def block(a, b):
        return kernels_tf(layers, a, b, parameterization)[1]

    @tf.function  # one trace per batch shape: the block size depends on it
    def fn(flat1, flat2):
        a = tf.reshape(flat1, [-1, *image_shape])
        b = tf.reshape(flat2, [-1, *image_shape])
        size = block_size or max(1, BLOCK_BYTES // (per_pair * int(a.shape[0])))
        parts = [block(a, b[j : j + size]) for j in range(0, int(b.shape[0]), size)]
        return tf.concat(parts, axis=1)

    return fn
