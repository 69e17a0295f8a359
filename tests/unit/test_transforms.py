"""Label transforms, augmentation and pipeline determinism."""

import numpy as np
import tensorflow as tf

from robust_keras.data import pipeline, transforms


def test_label_transforms():
    y = np.array([0, 1, 2, 9])
    np.testing.assert_array_equal(transforms.shifted_labels(y, 10), [1, 2, 3, 0])
    np.testing.assert_array_equal(transforms.binary_labels(y, [1, 3, 5, 7, 9]), [0, 1, 0, 1])
    y = np.random.default_rng(0).integers(0, 10, 5000)
    t = transforms.random_other_labels(y, 10, seed=3)
    assert np.all(t != y) and set(np.unique(t)) == set(range(10))
    np.testing.assert_array_equal(t, transforms.random_other_labels(y, 10, seed=3))


def test_train_val_split_partitions():
    tr, va = transforms.train_val_indices(100, 0.2, seed=1)
    assert len(va) == 20 and len(np.intersect1d(tr, va)) == 0 and len(np.union1d(tr, va)) == 100


def test_augment_is_a_seeded_crop_and_flip():
    x = tf.random.stateless_uniform([6, 8, 8, 3], [1, 2])
    a = transforms.augment_batch(x, tf.constant([4, 5]))
    b = transforms.augment_batch(x, tf.constant([4, 5]))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape
    # pad=0 and no flip is the identity
    np.testing.assert_array_equal(transforms.augment_batch(x, tf.constant([4, 5]), pad=0, flip=False), x)
    # every output is a shifted (and maybe mirrored) window of its own input
    padded = np.pad(x.numpy(), [(0, 0), (4, 4), (4, 4), (0, 0)])
    for i in range(6):
        windows = [padded[i, r : r + 8, c : c + 8] for r in range(9) for c in range(9)]
        assert any(np.array_equal(a[i], w) or np.array_equal(a[i], w[:, ::-1]) for w in windows)


def test_train_dataset_deterministic_per_seed_and_epoch():
    images = np.arange(50 * 4 * 4, dtype=np.uint8).reshape(50, 4, 4, 1)
    labels = np.arange(50)

    def order(seed, epoch):
        ds = pipeline.train_dataset(images, labels, batch_size=16, seed=seed, epoch=epoch, augment=True)
        return np.concatenate([y.numpy() for _, y in ds])

    np.testing.assert_array_equal(order(0, 0), order(0, 0))
    assert not np.array_equal(order(0, 0), order(0, 1))
    assert sorted(order(0, 1)) == list(range(50))
    x, _ = next(iter(pipeline.train_dataset(images, labels, batch_size=8, seed=0, epoch=0)))
    assert x.dtype == tf.float32 and float(tf.reduce_max(x)) <= 1.0
