"""The spatial maps of the analytic kernel recursion (``ntk/analytic.py``; docs/methods.md §B.9) on
covariance tensors: S, the mean over a convolution's filter offsets (zero padding for SAME, then
the stride) on the full layout (..., H, H', W, W') or the diagonal one (..., H, W[, Y]); average
pooling along one axis; and the diagonal p = p' of a full covariance.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from robust_keras.ntk.analytic_layers import Conv


def conv_window(size: int, k: int, stride: int, padding: str) -> tuple[int, int, int]:
    """(pad_before, pad_after, out_size) with TensorFlow's SAME/VALID placement."""
    if padding == "valid":
        return 0, 0, (size - k) // stride + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2, out


def shift_mean(t: tf.Tensor, groups: list[tuple[int, ...]], layer: Conv) -> tf.Tensor:
    """S: the mean over filter offsets of t shifted together along each group of axes (one group
    per image dimension: (h,) on the diagonal layout, (h, h') in the full one), then the stride."""
    for axes, k, stride in zip(groups, layer.kernel_size, layer.strides):
        size = t.shape[axes[0]]
        before, after, out = conv_window(size, k, stride, layer.padding)
        pads = [[0, 0]] * t.shape.rank
        for a in axes:
            pads[a] = [before, after]
        padded = tf.pad(t, pads)
        total = 0.0
        for offset in range(k):
            sl = [slice(None)] * t.shape.rank
            for a in axes:
                sl[a] = slice(offset, offset + stride * (out - 1) + 1, stride)
            total = total + padded[tuple(sl)]
        t = total / k
    return t


def same_counts(size: int, k: int, stride: int) -> np.ndarray:
    """Number of in-image taps of each output position of a SAME window along one axis."""
    before, _, out = conv_window(size, k, stride, "same")
    starts = np.arange(out) * stride - before
    return np.minimum(starts + k, size) - np.maximum(starts, 0)


def box_filter(t: tf.Tensor, layer: Conv) -> tf.Tensor:
    """S on the diagonal layout (X, H, W[, Y]): the mean over the k_h x k_w filter offsets, zeros
    outside the image for SAME, with the layer's stride -- average pooling over the channels Y
    (TensorFlow's SAME/VALID placement), rescaled from in-image taps to all k_h k_w taps."""
    squeeze = t.shape.rank == 3
    t = t[..., None] if squeeze else t
    kh, kw = layer.kernel_size
    out = tf.nn.avg_pool2d(t, [kh, kw], layer.strides, layer.padding.upper())
    if layer.padding == "same":
        counts = np.outer(same_counts(t.shape[1], kh, layer.strides[0]), same_counts(t.shape[2], kw, layer.strides[1]))
        out = out * tf.constant(counts / (kh * kw), t.dtype)[None, :, :, None]
    return out[..., 0] if squeeze else out


def pool_axis(t: tf.Tensor, axis: int, window: int, stride: int) -> tf.Tensor:
    out = (t.shape[axis] - window) // stride + 1
    total = 0.0
    for offset in range(window):
        sl = [slice(None)] * t.shape.rank
        sl[axis] = slice(offset, offset + stride * (out - 1) + 1, stride)
        total = total + t[tuple(sl)]
    return total / window


def spatial_diag(t: tf.Tensor) -> tf.Tensor:
    """(..., H, H', W, W') -> (..., H, W): the entries at p = p'."""
    r = t.shape.rank
    lead = list(range(r - 4))
    t = tf.linalg.diag_part(tf.transpose(t, lead + [r - 2, r - 1, r - 4, r - 3]))  # (..., W, W', H)
    return tf.linalg.diag_part(tf.transpose(t, lead + [r - 2, r - 4, r - 3]))  # (..., H, W)
