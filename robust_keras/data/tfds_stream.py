"""A clean tfds split (``mnist``, ``cifar10``) read as a tf.data pipeline, never whole in memory.

:func:`sources.load_tfds` reads a split into uint8 NumPy arrays; :class:`TfdsStream` reads the
prepared dataset's files instead: file order shuffled with a per-epoch seed (tfds ``shuffle_files``
+ ``ReadConfig.shuffle_seed``), records interleaved deterministically, decoded, filtered to the
task (``--classes``, ``--exclude_index_file``) and relabelled (``--binary_positive_classes``),
shuffled in a seeded buffer, batched, prefetched. tfds' in-memory auto-cache is off.

Which examples: the split is cut in tfds order first -- ``split`` is a tfds split string such as
``train[:45000]`` -- then filtered, so ``--max_train_examples`` / ``--val_fraction`` count examples
before the class filter (the in-memory path counts after it; :func:`cut` documents the cut).

Multi-worker: with an ``input_context`` of P pipelines, pipeline p reads the p-th of P equal
contiguous parts of the split (``tfds.even_splits``: each example read by one worker, at most one
example more on some workers), so the batches depend on the number of workers; each epoch is a
pure function of (seed, epoch, worker, workers), so a resume on as many workers replays it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from robust_keras.data.pipeline import seeded_batches, streamed_channel_stats, to_unit_float
from robust_keras.errors import DataError


def prepared_builder(name: str, data_dir: str | None, download: bool):
    """The tfds builder of ``name``, downloading and preparing the dataset first if it is not
    prepared and ``download`` allows it (what ``tfds.load`` does for the in-memory path).

    Raises:
      DataError: it is not prepared and cannot be (no download allowed, or the download failed).
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        if not download:
            raise DataError(
                f"tfds dataset {name!r} is not prepared under {builder.data_dir}",
                "prepare it with --experiment=prepare_data, or allow --tfds_download",
            )
        try:
            builder.download_and_prepare()
        except Exception as e:  # tfds raises many types (DownloadError, OSError...)
            raise DataError(
                f"tfds dataset {name!r} could not be downloaded ({type(e).__name__})",
                f"on a connected machine run tfds.load('{name}', data_dir=...) and copy it here, or use "
                "--experiment=prepare_data",
            ) from e
    return builder


def megabytes(builder, split: str = "train") -> float:
    """Size of a prepared tfds split's images held in memory as uint8, in MiB (from its metadata)."""
    info = builder.info
    return info.splits[split].num_examples * int(np.prod(info.features["image"].shape)) / 2**20


def cut(num_examples: int, limit: int, val_fraction: float) -> tuple[str, str | None]:
    """(train, val) tfds split strings of the ``train`` split: its first ``limit`` examples (all if
    0), the last round(val_fraction * n) of those held out for validation (None if none)."""
    n = num_examples if limit <= 0 else min(limit, num_examples)
    held = int(round(val_fraction * n))
    if held == 0:
        return f"train[:{n}]", None
    return f"train[:{n - held}]", f"train[{n - held}:{n}]"


def id_table(ids) -> tf.lookup.StaticHashTable:
    """Example id (string) -> 1 if it is in ``ids``, else 0."""
    keys = tf.constant(sorted(ids))
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, tf.ones_like(keys, tf.int64)), 0)


def matching_ids(builder, ids: set[str]) -> int:
    """How many examples of the dataset's train and test splits have an id in ``ids`` (one pass
    over the ids, images not decoded)."""
    import tensorflow_datasets as tfds

    table = id_table(ids)
    matched = 0
    for split in ("train", "test"):
        ds = builder.as_dataset(split=split, decoders={"image": tfds.decode.SkipDecoding()})
        for batch in ds.map(lambda e: table.lookup(e["id"])).batch(8192):
            matched += int(batch.numpy().sum())
    return matched


class TfdsStream:
    """Streaming access to a task built from one split of a prepared tfds dataset.

    Attributes:
      count: examples after the filter (one label-only pass at construction);
      shape: (H, W, C); num_classes: classes of the task; class_counts: int (num_classes,).
    """

    def __init__(
        self,
        builder,
        split: str,
        *,
        classes: Sequence[int] = (),
        binary_positive: Sequence[int] = (),
        exclude_ids: Sequence[str] = (),
    ):
        """``builder``: the prepared dataset's tfds builder (:func:`prepared_builder`)."""
        self.builder, self.split = builder, split
        features = self.builder.info.features
        self.shape = tuple(features["image"].shape)
        num_labels = features["label"].num_classes
        classes = [int(c) for c in classes] or list(range(num_labels))
        relabel = np.full(num_labels, -1, np.int64)  # original label -> task label, -1 = dropped
        relabel[classes] = np.arange(len(classes))
        if binary_positive:
            relabel[classes] = np.isin(np.arange(len(classes)), [int(c) for c in binary_positive]).astype(np.int64)
        self.num_classes = int(relabel.max()) + 1
        self._relabel = tf.constant(relabel)
        self._excluded = None
        if exclude_ids:
            if "id" not in features:
                raise DataError(
                    f"{builder.name} has no example ids to exclude by", "exclusion lists work for cifar10 and cinic10"
                )
            self._excluded = id_table(exclude_ids)
        labels = [y.numpy() for y in self._read(split, decode_images=False, seed=None).batch(8192).map(lambda x, y: y)]
        labels = np.concatenate(labels) if labels else np.zeros([0], np.int64)
        self.count = len(labels)
        self.class_counts = np.bincount(labels, minlength=self.num_classes)

    def _read(self, split, *, decode_images: bool, seed: int | None) -> tf.data.Dataset:
        """(image uint8 (H, W, C) or encoded bytes, task label int64) of the split's kept examples;
        files in order, or shuffled with ``seed``."""
        import tensorflow_datasets as tfds

        options = tf.data.Options()
        options.deterministic = True
        read_config = tfds.ReadConfig(options=options, try_autocache=False, shuffle_seed=seed)
        decoders = None if decode_images else {"image": tfds.decode.SkipDecoding()}
        ds = self.builder.as_dataset(
            split=split, shuffle_files=seed is not None, read_config=read_config, decoders=decoders
        )
        relabel, excluded = self._relabel, self._excluded

        def keep(example):
            kept = tf.gather(relabel, example["label"]) >= 0
            if excluded is not None:
                kept = kept & (excluded.lookup(example["id"]) == 0)
            return kept

        return ds.filter(keep).map(lambda e: (e["image"], tf.gather(relabel, e["label"])))

    def train_dataset(
        self,
        *,
        batch_size: int,
        seed: int,
        epoch: int,
        augment: bool = False,
        flip: bool = True,
        shuffle_buffer: int = 10_000,
        input_context: tf.distribute.InputContext | None = None,
    ) -> tf.data.Dataset:
        """One epoch of shuffled (optionally augmented) batches of (float32 image, int64 label), a
        pure function of (seed, epoch) and, with an ``input_context``, of the pipeline's id and the
        number of pipelines (then ``batch_size`` is the per-replica batch)."""
        import tensorflow_datasets as tfds

        split, pipeline = self.split, 0
        if input_context is not None and input_context.num_input_pipelines > 1:
            pipeline = input_context.input_pipeline_id
            split = tfds.even_splits(self.split, n=input_context.num_input_pipelines)[pipeline]
        file_seed = (seed * 100_003 + epoch) % (2**31 - 1)
        return seeded_batches(
            self._read(split, decode_images=True, seed=file_seed),
            batch_size=batch_size,
            shuffle_buffer=shuffle_buffer,
            shuffle_seed=file_seed * 1_009 + pipeline,
            augment_seed=seed * 7919 + epoch * 31 + pipeline if augment else None,
            flip=flip,
        )

    def eval_dataset(self, batch_size: int) -> tf.data.Dataset:
        """Batches of (float32 image, int64 label) in tfds order."""
        ds = self._read(self.split, decode_images=True, seed=None).batch(batch_size)
        return ds.map(lambda x, y: (to_unit_float(x), y), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
            tf.data.AUTOTUNE
        )

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std in [0, 1] units, one streamed pass (float64 sums)."""
        return streamed_channel_stats(self.eval_dataset(1024), self.shape[-1])
