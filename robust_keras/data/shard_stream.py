"""An adversarial dataset read from its shards as tf.data pipelines, never whole in memory.

:func:`adversarial_reader.load` reads a dataset into NumPy arrays; for datasets larger than
``--max_in_memory_mb`` the experiments train from :class:`ShardStream` instead: the shard files
(verified against the manifest's sha256 first) are read in a seeded order, interleaved, parsed,
filtered to the wanted examples, shuffled with a seeded buffer, batched and prefetched. Only the
small per-example columns (labels, indices, hits: a few bytes each) are held in memory.

Determinism: every epoch's batches are a pure function of (seed, epoch), so a resumed run sees the
batches an uninterrupted run would have seen -- the same guarantee as the in-memory pipeline, with
a different order (a buffer shuffle of ``shuffle_buffer`` examples over shards read in a shuffled
order, not a full permutation). Which path a run takes depends only on the dataset size and
``--max_in_memory_mb``, so a resume takes the same one. Under multi_worker each worker reads only
its share of the shard files (file sharding), so the batches also depend on the number of workers:
a resume on as many workers replays them; a resume on a different number trains on the same
examples per epoch in a different order.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from robust_keras.data import adversarial_reader
from robust_keras.data.pipeline import seeded_batches, streamed_channel_stats

_INT_COLUMNS = ("label", "orig_label", "index", "target_hit")


def dataset_megabytes(manifest: dict) -> float:
    """Size of the dataset's images in memory (float32), in MiB."""
    return manifest["num_examples"] * int(np.prod(manifest["image_shape"])) * 4 / 2**20


class ShardStream:
    """Streaming access to a complete, verified adversarial dataset directory.

    Attributes:
      manifest: the verified manifest; ``labels``, ``orig_labels``, ``indices``, ``target_hit``:
        the per-example columns in shard order (int64 / bool (N,)), as in AdversarialData.
    """

    def __init__(self, directory: str, cycle_length: int = 4):
        self.directory = directory
        self.manifest = adversarial_reader.read_manifest(directory)  # sha256 of every shard, streamed from disk
        self.files = [os.path.join(directory, s["name"]) for s in self.manifest["shards"]]
        self.shape = tuple(self.manifest["image_shape"])
        self.cycle_length = cycle_length
        columns = {k: [] for k in _INT_COLUMNS}
        spec = {k: tf.io.FixedLenFeature([], tf.int64) for k in _INT_COLUMNS}
        for raw in tf.data.TFRecordDataset(self.files).batch(4096):
            for k, v in tf.io.parse_example(raw, spec).items():  # images are skipped, not decoded
                columns[k].append(v.numpy())
        cat = lambda k: np.concatenate(columns[k]) if columns[k] else np.zeros([0], np.int64)  # noqa: E731
        self.labels, self.orig_labels, self.indices = cat("label"), cat("orig_label"), cat("index")
        self.target_hit = cat("target_hit").astype(bool)

    streamed = True  # images are read from the shards (``read_images``), never held

    def __len__(self) -> int:
        return len(self.labels)

    def _keep_table(self, rows: np.ndarray) -> tf.Tensor:
        """bool (max index + 1,): True for the source indices of the wanted rows."""
        table = np.zeros(int(self.indices.max(initial=0)) + 1, bool)
        table[self.indices[rows]] = True
        return tf.constant(table)

    def _examples(self, rows: np.ndarray, files: list[str], cycle_length: int = 1) -> tf.data.Dataset:
        """(image float32 (H, W, C), label int64, index int64) of the wanted rows in ``files``,
        read in that order (interleaved deterministically over ``cycle_length`` files)."""
        keep = self._keep_table(rows)
        records = tf.data.Dataset.from_tensor_slices(files).interleave(
            tf.data.TFRecordDataset,
            cycle_length=cycle_length,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        spec = {k: tf.io.FixedLenFeature([], tf.int64) for k in ("label", "index")}
        spec["image"] = tf.io.FixedLenFeature([], tf.string)
        shape = self.shape

        def parse(record):
            f = tf.io.parse_single_example(record, spec)
            return (
                tf.reshape(tf.io.decode_raw(f["image"], tf.float32, little_endian=True), shape),
                f["label"],
                f["index"],
            )

        examples = records.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return examples.filter(lambda x, y, i: tf.gather(keep, i))

    def epoch_files(self, seed: int, epoch: int, input_context: tf.distribute.InputContext | None = None):
        """(files, whole): the shard files one input pipeline reads in an epoch, in its order.

        The epoch's file order is a seeded permutation of all shards, the same on every worker;
        pipeline p of P reads every P-th file of it from p (file sharding: each file read by one
        worker), so ``whole`` is False. With fewer files than pipelines every pipeline reads all
        of them (``whole`` True) and keeps every P-th example instead."""
        order = np.random.default_rng([seed, epoch, 7]).permutation(len(self.files))
        files = [self.files[k] for k in order]
        pipelines = input_context.num_input_pipelines if input_context else 1
        if pipelines == 1 or len(files) < pipelines:
            return files, pipelines > 1
        return files[input_context.input_pipeline_id :: pipelines], False

    def train_dataset(
        self,
        rows: np.ndarray,
        *,
        batch_size: int,
        seed: int,
        epoch: int,
        augment: bool = False,
        flip: bool = True,
        shuffle_buffer: int = 10_000,
        input_context: tf.distribute.InputContext | None = None,
    ) -> tf.data.Dataset:
        """One epoch of shuffled (optionally augmented) batches of (float32 image, int64 label)
        over ``rows`` (positions in the dataset), a pure function of (seed, epoch) -- and, with an
        ``input_context`` (multi-worker), of this pipeline's id and the number of pipelines:
        pipeline p reads only its files (:meth:`epoch_files`) and ``batch_size`` is then the
        per-replica batch."""
        files, whole = self.epoch_files(seed, epoch, input_context)
        ds = self._examples(rows, files, cycle_length=min(self.cycle_length, len(files)) or 1)
        pipeline = 0
        if input_context is not None:
            pipeline = input_context.input_pipeline_id
            if whole:
                ds = ds.shard(input_context.num_input_pipelines, pipeline)
        return seeded_batches(
            ds.map(lambda x, y, i: (x, y)),
            batch_size=batch_size,
            shuffle_buffer=shuffle_buffer,
            shuffle_seed=(seed * 100_003 + epoch) * 1_009 + pipeline,
            augment_seed=seed * 7919 + epoch * 31 + pipeline if augment else None,
            flip=flip,
        )

    def eval_dataset(self, rows: np.ndarray, batch_size: int) -> tf.data.Dataset:
        """Batches of (float32 image, int64 label) over ``rows``, in dataset order."""
        ds = self._examples(rows, self.files).map(lambda x, y, i: (x, y))
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def read_images(self, rows: np.ndarray) -> np.ndarray:
        """float32 (len(rows), H, W, C): the images of ``rows`` (a small subset), in dataset order."""
        rows = np.sort(np.asarray(rows))
        batches = [x.numpy() for x, _ in self.eval_dataset(rows, 1024)]
        return np.concatenate(batches) if batches else np.zeros([0, *self.shape], np.float32)

    def channel_stats(self, rows: np.ndarray) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of ``rows`` in [0, 1] units, in one streamed pass (float64 sums)."""
        return streamed_channel_stats(self.eval_dataset(rows, 1024), self.shape[-1])
