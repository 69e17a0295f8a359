"""Label and image transforms: binary tasks, shifted/random targets, crop+flip augmentation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf


def binary_labels(labels: np.ndarray, positive_classes: Sequence[int]) -> np.ndarray:
    """Relabel a K-class task as binary: 1 for ``positive_classes`` (e.g. odd digits), else 0."""
    return np.isin(labels, np.asarray(positive_classes, np.int64)).astype(np.int64)


def shifted_labels(labels: np.ndarray, num_classes: int, shift: int = 1) -> np.ndarray:
    """t = (y + shift) mod K: the D_det targets and the D_shift labels (docs/methods.md §A)."""
    return (np.asarray(labels, np.int64) + shift) % num_classes


def random_other_labels(labels: np.ndarray, num_classes: int, seed: int) -> np.ndarray:
    """t uniform over the K - 1 classes != y (the D_rand targets), deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    offsets = rng.integers(1, num_classes, size=len(labels))  # in [1, K-1]
    return (np.asarray(labels, np.int64) + offsets) % num_classes


def attack_targets(rule: str, labels: np.ndarray, num_classes: int, seed: int) -> np.ndarray:
    """Targets of a targeted attack: ``next`` = (y+1) mod K (D_det), ``random`` = uniform t != y (D_rand)."""
    if rule == "next":
        return shifted_labels(labels, num_classes)
    if rule == "random":
        return random_other_labels(labels, num_classes, seed)
    raise ValueError(f"unknown target rule {rule!r}; use 'next' or 'random'")


def train_val_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``range(n)`` into sorted (train, val) index arrays."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def augment_batch(images: tf.Tensor, seed: tf.Tensor, pad: int = 4, flip: bool = True) -> tf.Tensor:
    """Random crop after zero padding by ``pad`` pixels, and random horizontal flip.

    Args:
      images: float (B, H, W, C).
      seed: int32 (2,), a stateless seed; the same seed gives the same crops and flips.
    Returns:
      float (B, H, W, C).
    """
    b, h, w = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])  # (B, H+2p, W+2p, C)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    oy = tf.random.stateless_uniform([b], seeds[0], 0, 2 * pad + 1, dtype=tf.int32)
    ox = tf.random.stateless_uniform([b], seeds[1], 0, 2 * pad + 1, dtype=tf.int32)
    rows = oy[:, None] + tf.range(h)[None, :]  # (B, H)
    cols = ox[:, None] + tf.range(w)[None, :]  # (B, W)
    out = tf.gather(padded, rows, axis=1, batch_dims=1)  # (B, H, W+2p, C)
    out = tf.gather(out, cols, axis=2, batch_dims=1)  # (B, H, W, C)
    if flip:
        do_flip = tf.random.stateless_uniform([b], seeds[2]) < 0.5
        out = tf.where(do_flip[:, None, None, None], tf.reverse(out, axis=[2]), out)
    return out


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of images in [0, 1] units (for the model's normalisation layer)."""
    x = images.astype(np.float64) / (255.0 if images.dtype == np.uint8 else 1.0)
    axes = tuple(range(x.ndim - 1))
    return x.mean(axis=axes).tolist(), np.maximum(x.std(axis=axes), 1e-3).tolist()


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 0..255 or float [0, 1] -> float32 [0, 1]."""
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
