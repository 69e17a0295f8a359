"""Clean data sources: embedded MNIST sample, tfds (mock data), CINIC-10 folder layout."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from fake_cinic10 import write_cinic

from robust_keras.data import sources
from robust_keras.errors import DataError


def test_mnist_sample_fixed_balanced_test_split():
    train, test = sources.load_mnist_sample(test_per_class=100)
    assert train.images.shape == (4000, 28, 28, 1) and test.images.shape == (1000, 28, 28, 1)
    assert train.images.dtype == np.uint8 and train.images.max() > 200
    np.testing.assert_array_equal(np.bincount(test.labels), np.full(10, 100))
    _, test_again = sources.load_mnist_sample(test_per_class=100)
    np.testing.assert_array_equal(test.images, test_again.images)
    # train and test are disjoint rows of the same file
    train_rows = {r.tobytes() for r in train.images.reshape(len(train), -1)}
    assert sum(r.tobytes() in train_rows for r in test.images.reshape(len(test), -1)) < 5  # MNIST has rare dupes


def test_mnist_sample_too_large_test_split_is_clear_error():
    with pytest.raises(DataError, match="test_per_class"):
        sources.load_mnist_sample(test_per_class=500)


@pytest.mark.parametrize("name,shape", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_sources_with_mock_data(name, shape):
    with tfds.testing.mock_data(num_examples=12):
        train, test = sources.load_dataset(name, download=False)
    assert train.images.shape == (12, *shape) and train.images.dtype == np.uint8
    assert len(test) == 12 and train.num_classes == 10


def test_tfds_offline_without_prepared_data_names_where_to_put_files(tmp_path):
    with pytest.raises(DataError) as err:
        sources.load_dataset("cifar10", data_dir=str(tmp_path), download=False)
    assert str(tmp_path) in str(err.value) and "downloads/manual" in str(err.value)


def test_cinic10_folder_layout(tmp_path):
    write_cinic(tmp_path, ("airplane", "cat", "ship"))
    train, test = sources.load_dataset("cinic10", cinic10_dir=str(tmp_path))
    assert train.class_names == ("airplane", "cat", "ship")
    assert train.images.shape == (9, 32, 32, 3)
    np.testing.assert_array_equal(train.labels, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    again = sources.load_cinic10(str(tmp_path), "train")
    np.testing.assert_array_equal(again.images, train.images)


def test_cinic10_missing_folder(tmp_path):
    with pytest.raises(DataError, match="cinic10_dir"):
        sources.load_dataset("cinic10", cinic10_dir=str(tmp_path / "nope"))


def test_select_classes_keeps_and_relabels_in_the_given_order():
    images = np.arange(5, dtype=np.uint8).reshape(5, 1, 1, 1)
    split = sources.Split(images, np.array([0, 1, 2, 1, 0]), ("plane", "car", "bird"), "toy/train")
    pair = split.select_classes([1, 0])  # car vs airplane, as CIFAR-10 --classes=1,0
    assert pair.class_names == ("car", "plane") and pair.num_classes == 2
    np.testing.assert_array_equal(pair.labels, [1, 0, 0, 1])
    np.testing.assert_array_equal(pair.images[:, 0, 0, 0], [0, 1, 3, 4])
    with pytest.raises(DataError, match="labels 0..2"):
        split.select_classes([1, 5])


def test_uci_digits_are_mnist_shaped_centred_and_class_balanced():
    train, test = sources.load_dataset("uci_digits")
    assert train.images.shape == (1000, 28, 28, 1) and test.images.shape == (797, 28, 28, 1)
    assert train.images.dtype == np.uint8 and train.class_names == sources.MNIST_CLASSES
    assert train.images.max() == 255 and not train.images[:, :4].any() and not train.images[:, 24:].any()  # 4-px border
    assert np.bincount(test.labels, minlength=10).min() >= 70  # every digit in the test split
    mean_ink = test.images.reshape(len(test.labels), -1).mean(1)
    assert mean_ink.min() > 5  # no blank image: each 8 x 8 digit was drawn
