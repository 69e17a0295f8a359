"""Closed-form NTK of the two-layer ReLU net f(x) = (1/sqrt(m)) sum_r a_r relu(w_r^T x), w_r ~ N(0, I)
(NTK paper App. C, Eq. 41-42; docs/methods.md §B). Inputs are rows of float arrays (N, d); results float64.
"""

from __future__ import annotations

import numpy as np


def _angles(x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    dot = x1 @ x2.T  # (N1, N2)
    norms = np.linalg.norm(x1, axis=1)[:, None] * np.linalg.norm(x2, axis=1)[None, :]
    theta = np.arccos(np.clip(dot / np.maximum(norms, 1e-300), -1.0, 1.0))
    return dot, norms, theta


def two_layer_relu_ntk(x1: np.ndarray, x2: np.ndarray | None = None, train_second_layer: bool = False) -> np.ndarray:
    """Infinite-width NTK (N1, N2): x^T x' (pi - theta) / (2 pi), theta = angle(x, x');
    with a trained too, plus ||x|| ||x'|| (sin theta + (pi - theta) cos theta) / (2 pi)."""
    dot, norms, theta = _angles(x1, x1 if x2 is None else x2)
    kernel = dot * (np.pi - theta) / (2 * np.pi)
    if train_second_layer:
        kernel += norms * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi)
    return kernel


def two_layer_relu_ntk_finite(x1: np.ndarray, x2: np.ndarray | None, w: np.ndarray) -> np.ndarray:
    """Finite-width NTK (N1, N2) of the first layer for hidden weights ``w`` (d, m):
    (x^T x' / m) sum_r 1{w_r^T x >= 0} 1{w_r^T x' >= 0} (second layer frozen, a_r = +-1)."""
    x2 = x1 if x2 is None else x2
    x1, x2, w = (np.asarray(a, np.float64) for a in (x1, x2, w))
    act1, act2 = (x1 @ w >= 0).astype(np.float64), (x2 @ w >= 0).astype(np.float64)  # (N, m)
    return (x1 @ x2.T) * (act1 @ act2.T) / w.shape[1]


def two_layer_relu_ntk_tf(x1, x2):
    """TensorFlow version of :func:`two_layer_relu_ntk` (frozen readout), differentiable in x1:
    (N1, d), (N2, d) -> (N1, N2) float32."""
    import tensorflow as tf

    dot = tf.matmul(x1, x2, transpose_b=True)  # (N1, N2)
    norms = tf.norm(x1, axis=1)[:, None] * tf.norm(x2, axis=1)[None, :]
    cos = tf.clip_by_value(dot / tf.maximum(norms, 1e-12), -1.0 + 1e-6, 1.0 - 1e-6)
    return dot * (np.pi - tf.acos(cos)) / (2 * np.pi)
