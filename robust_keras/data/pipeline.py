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
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.shuffle(len(labels), seed=seed * 100_003 + epoch, reshuffle_each_iteration=False)
    ds = ds.batch(batch_size).enumerate()

    def prepare(step, batch):
        x, y = batch
        x = to_unit_float(x)
        if augment:
            x = augment_batch(x, tf.stack([tf.cast(seed * 7919 + epoch, tf.int32), tf.cast(step, tf.int32)]), flip=flip)
        return x, y

    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def eval_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Batches of (float32 image, int64 label) in order, no augmentation."""
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    return ds.map(lambda x, y: (to_unit_float(x), y), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
