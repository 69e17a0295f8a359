"""tf.data pipelines over in-memory arrays: scaling to [0, 1], shuffling, augmentation, batching.

Deterministic given ``seed`` and ``epoch``: the shuffle order and the augmentation of every
batch are derived from them, so a resumed run sees exactly the batches an uninterrupted run
would have seen.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from robust_keras.data.transforms import augment_batch


def to_unit_float(images: tf.Tensor) -> tf.Tensor:
    """uint8 0..255 -> float32 [0, 1]; float inputs are assumed to be in [0, 1] already."""
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


def train_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    augment: bool = False,
    flip: bool = True,
) -> tf.data.Dataset:
    """One epoch of shuffled (and optionally augmented) batches of (float32 image, int64 label)."""
    return seeded_batches(
        tf.data.Dataset.from_tensor_slices((images, labels)),
        batch_size=batch_size,
        shuffle_buffer=len(labels),
        shuffle_seed=seed * 100_003 + epoch,
        augment_seed=seed * 7919 + epoch if augment else None,
        flip=flip,
    )


def seeded_batches(
    examples: tf.data.Dataset,
    *,
    batch_size: int,
    shuffle_buffer: int,
    shuffle_seed: int,
    augment_seed: int | None,
    flip: bool = True,
) -> tf.data.Dataset:
    """(image, label) examples -> shuffled batches of (float32 image in [0, 1], label), prefetched.

    The shuffle buffer holds ``shuffle_buffer`` examples and is seeded by ``shuffle_seed`` (the
    whole dataset: a full permutation). With an ``augment_seed``, batch k is augmented with the
    stateless seed (augment_seed, k), so every epoch is a pure function of its seeds (resume)."""
    ds = examples.shuffle(shuffle_buffer, seed=shuffle_seed, reshuffle_each_iteration=False)
    ds = ds.batch(batch_size).enumerate()

    def prepare(step, batch):
        x, y = batch
        x = to_unit_float(x)
        if augment_seed is not None:
            x = augment_batch(x, tf.stack([tf.cast(augment_seed, tf.int32), tf.cast(step, tf.int32)]), flip=flip)
        return x, y

    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def streamed_channel_stats(batches: tf.data.Dataset, channels: int) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of float32 [0, 1] image batches (image, label), in one pass with
    float64 sums; std floored at 1e-3 like the in-memory statistics."""
    total, square, count = 0.0, 0.0, 0
    for x, _ in batches:
        x = x.numpy().astype(np.float64).reshape(-1, channels)
        total, square, count = total + x.sum(0), square + (x**2).sum(0), count + len(x)
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(square / max(count, 1) - mean**2, 0.0))
    return mean.tolist(), np.maximum(std, 1e-3).tolist()


def eval_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Batches of (float32 image, int64 label) in order, no augmentation."""
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    return ds.map(lambda x, y: (to_unit_float(x), y), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
