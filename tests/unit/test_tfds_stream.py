"""Clean tfds data streamed from its prepared files (data/tfds_stream.py) on CIFAR-10 prepared from
a fake archive: the same examples, task and statistics as the in-memory loader, seeded epochs,
disjoint worker parts (the train experiment streaming it on two workers:
tests/e2e/test_tfds_stream_workers.py)."""

import numpy as np
import pytest
from fake_cifar10 import prepared_cifar10

from robust_keras.data import sources, transforms
from robust_keras.data.tfds_stream import TfdsStream, cut, matching_ids, megabytes, prepared_builder
from robust_keras.data.transforms import channel_stats
from robust_keras.errors import DataError


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return prepared_cifar10(tmp_path_factory.mktemp("cifar"), per_file=40)  # 200 train, 40 test


def _arrays(ds):
    batches = list(ds)
    return np.concatenate([x.numpy() for x, _ in batches]), np.concatenate([y.numpy() for _, y in batches])


def test_examples_task_and_statistics_match_the_in_memory_loader(data_dir):
    train, _ = sources.load_tfds("cifar10", data_dir, download=False)
    builder = prepared_builder("cifar10", data_dir, download=False)
    stream = TfdsStream(builder, "train")
    x, y = _arrays(stream.eval_dataset(64))
    np.testing.assert_array_equal(x, train.images / np.float32(255))
    np.testing.assert_array_equal(y, train.labels)
    np.testing.assert_allclose(stream.channel_stats(), channel_stats(train.images), rtol=1e-6)
    assert stream.count == 200 and megabytes(builder) == pytest.approx(200 * 3072 / 2**20)
    with pytest.raises(DataError, match="not prepared"):
        prepared_builder("mnist", data_dir, download=False)

    drop = {"train_00003", "train_00100", "test_00001"}  # one id outside the train split
    assert matching_ids(builder, drop) == 3 and matching_ids(builder, {"nope"}) == 0
    task = TfdsStream(builder, "train", classes=[3, 1, 7], binary_positive=[0], exclude_ids=sorted(drop))
    want = sources.exclude([train], drop - {"test_00001"}, "list")[0].select_classes([3, 1, 7])
    want_labels = transforms.binary_labels(want.labels, [0])
    x, y = _arrays(task.eval_dataset(64))
    np.testing.assert_array_equal(x, want.images / np.float32(255))
    np.testing.assert_array_equal(y, want_labels)
    assert (
        task.num_classes == 2
        and task.count == len(want)
        and task.class_counts.tolist() == np.bincount(want_labels).tolist()
    )
    assert cut(200, 0, 0.1) == ("train[:180]", "train[180:200]") and cut(200, 50, 0.0) == ("train[:50]", None)


def test_epochs_are_seeded_and_workers_read_disjoint_parts(data_dir):
    import tensorflow as tf

    stream = TfdsStream(prepared_builder("cifar10", data_dir, download=False), "train[:150]")
    want, _ = _arrays(stream.eval_dataset(64))
    key = lambda x: {im.tobytes() for im in x}  # noqa: E731

    def epoch(seed, e, context=None):
        return _arrays(
            stream.train_dataset(batch_size=16, seed=seed, epoch=e, shuffle_buffer=40, input_context=context)
        )

    x, _ = epoch(0, 0)
    assert len(x) == 150 and key(x) == key(want) and not np.array_equal(x, want)  # each example once, shuffled
    np.testing.assert_array_equal(epoch(0, 0)[0], x)  # a resumed run replays the epoch
    assert not np.array_equal(epoch(0, 1)[0], x) and not np.array_equal(epoch(1, 0)[0], x)
    a, _ = epoch(0, 0, tf.distribute.InputContext(2, 0, 2))
    b, _ = epoch(0, 0, tf.distribute.InputContext(2, 1, 2))
    assert len(a) == len(b) == 75 and not key(a) & key(b) and key(a) | key(b) == key(want)
