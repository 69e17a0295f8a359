"""Adversarial datasets streamed from their shards (data/shard_stream.py): the same examples and
statistics as the in-memory reader, and seeded epochs. A d_det run that streams a dataset above
the memory cap the test sets is part of tests/e2e/test_quickstart_e2e.py (split generation)."""

import numpy as np
import pytest

from robust_keras.data import adversarial, adversarial_reader
from robust_keras.data.shard_stream import ShardStream, dataset_megabytes
from robust_keras.data.transforms import channel_stats

N = 230


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("ds"))
    rng = np.random.default_rng(0)
    adversarial.write_arrays(
        directory,
        images=rng.random((N, 4, 4, 3), dtype=np.float32),
        labels=rng.integers(0, 10, N),
        orig_labels=rng.integers(0, 10, N),
        indices=np.arange(N),
        target_hit=rng.random(N) < 0.5,
        spec={"test": True},
        shard_size=40,  # 6 shards, the last one short
        log=lambda _: None,
    )
    return directory, adversarial_reader.load(directory)


def test_columns_rows_and_statistics_match_the_in_memory_reader(written):
    directory, data = written
    stream = ShardStream(directory)
    for column in ("labels", "orig_labels", "indices", "target_hit"):
        np.testing.assert_array_equal(getattr(stream, column), getattr(data, column))
    rows = np.sort(np.random.default_rng(1).choice(N, 70, replace=False))
    np.testing.assert_array_equal(stream.read_images(rows), data.images[rows])
    batches = list(stream.eval_dataset(rows, 32))
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in batches]), data.labels[rows])
    mean, std = stream.channel_stats(rows)
    want_mean, want_std = channel_stats(data.images[rows])
    np.testing.assert_allclose(mean, want_mean, rtol=1e-6)
    np.testing.assert_allclose(std, want_std, rtol=1e-5)
    assert dataset_megabytes(data.manifest) == pytest.approx(N * 48 * 4 / 2**20)


def test_training_epochs_cover_the_rows_once_and_are_seeded(written):
    directory, data = written
    stream = ShardStream(directory)
    rows = np.arange(N)[np.arange(N) % 3 != 0]  # e.g. the train part of a train / val split

    def epoch(seed, e):
        batches = list(stream.train_dataset(rows, batch_size=16, seed=seed, epoch=e, shuffle_buffer=50))
        return np.concatenate([x.numpy() for x, _ in batches]), np.concatenate([y.numpy() for _, y in batches])

    x, y = epoch(0, 0)
    order = np.lexsort(x.reshape(len(x), -1).T)
    want = data.images[rows]
    np.testing.assert_array_equal(x[order], want[np.lexsort(want.reshape(len(want), -1).T)])  # each row once
    assert sorted(y.tolist()) == sorted(data.labels[rows].tolist())
    again_x, _ = epoch(0, 0)
    np.testing.assert_array_equal(again_x, x)  # a resumed run replays the epoch exactly
    assert not np.array_equal(epoch(0, 1)[0], x) and not np.array_equal(epoch(1, 0)[0], x)
    assert not np.array_equal(x, want)  # shuffled, not in shard order


def test_workers_read_disjoint_files_that_together_cover_the_rows_once(written):
    """Multi-worker file sharding: pipeline p of 2 reads every 2nd file of the epoch's seeded file
    order; the two parts are disjoint, cover the train rows once, and each is seeded."""
    import tensorflow as tf

    directory, data = written
    stream = ShardStream(directory)
    rows = np.arange(N)[np.arange(N) % 3 != 0]

    def part(pipeline, pipelines=2, epoch=0, files=None):
        context = tf.distribute.InputContext(pipelines, pipeline, pipelines)
        if files is not None:
            stream.files = files
        batches = stream.train_dataset(
            rows, batch_size=8, seed=0, epoch=epoch, shuffle_buffer=50, input_context=context
        )
        x = np.concatenate([x.numpy() for x, _ in batches])
        return {data.images.tolist().index(im) for im in x.tolist()}, len(x)

    (a, len_a), (b, len_b) = part(0), part(1)
    assert len(a) == len_a and len(b) == len_b and not a & b and a | b == set(rows.tolist())
    files_0, _ = stream.epoch_files(0, 0, tf.distribute.InputContext(2, 0, 2))
    files_1, _ = stream.epoch_files(0, 0, tf.distribute.InputContext(2, 1, 2))
    assert len(files_0) == 3 and len(files_1) == 3 and not set(files_0) & set(files_1)  # 6 shards, 3 each
    assert part(0) == (a, len_a) and part(0, epoch=1)[0] != a  # replayed; another file draw next epoch
    one_file = stream.files[:1]  # fewer files than workers: both read it and keep every 2nd example
    (c, _), (d, _) = part(0, files=one_file), part(1, files=one_file)
    in_file = set(rows[rows < 40].tolist())
    assert not c & d and c | d == in_file and abs(len(c) - len(d)) <= 1
