"""The task's clean data as the flags describe it: loaded in memory (:func:`load_clean`), or
streamed from tfds (:func:`open_streams`) when it is larger than ``--max_in_memory_mb``.

The in-memory path stays for data that fits: shuffling a NumPy array
is a full permutation and faster. Which path a run takes depends only on the dataset's size (from
its tfds metadata) and the recorded flag, so a resume takes the same one.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from robust_keras.data import sources, tfds_stream, transforms
from robust_keras.data.tfds_stream import TfdsStream
from robust_keras.errors import DataError
from robust_keras.settings import DataSettings
from robust_keras.workflows.recipes import Streamed

STREAMABLE = ("mnist", "cifar10")


@dataclasses.dataclass(frozen=True)
class CleanStreams:
    """The task's train / val (None without ``--val_fraction``) / test parts, streamed."""

    train: TfdsStream
    val: TfdsStream | None
    test: TfdsStream

    def streamed_train(self) -> Streamed:
        t = self.train
        return Streamed(t.count, t.shape, t.channel_stats, t.train_dataset)


def open_streams(data: DataSettings, *, max_in_memory_mb: float, val_fraction: float) -> CleanStreams | None:
    """The streamed task ``data`` describes, or None when it is not a tfds dataset or its train
    images (uint8) take at most ``max_in_memory_mb`` (``--max_in_memory_mb``); ``val_fraction``
    of the training split is held out as ``val``.

    Raises:
      DataError: the dataset is not prepared and cannot be downloaded, ids of
        ``--exclude_index_file`` that match no example, or a one-class task.
    """
    if data.dataset not in STREAMABLE:
        return None
    builder = tfds_stream.prepared_builder(data.dataset, data.data_dir, data.download)
    size = tfds_stream.megabytes(builder)
    if size <= max_in_memory_mb:
        return None
    print(f"[data] {data.dataset}: {size:.0f} MiB > --max_in_memory_mb={max_in_memory_mb}: streaming it")
    exclude = set()
    if data.exclude_index_file and data.dataset == "cifar10":
        exclude = sources.read_exclusion_file(data.exclude_index_file)
        matched = tfds_stream.matching_ids(builder, exclude)
        if matched < len(exclude):
            raise DataError(
                f"{len(exclude) - matched} of {len(exclude)} ids in {data.exclude_index_file} match no example",
                "CIFAR-10 ids look like train_00042 or test_00017 (tfds id: split and position in the original files)",
            )
    task = {
        "classes": data.classes,
        "binary_positive": data.binary_positive_classes,
        "exclude_ids": sorted(exclude),
    }
    train_split, val_split = tfds_stream.cut(
        builder.info.splits["train"].num_examples, data.max_train_examples, val_fraction
    )
    test_split = f"test[:{data.max_test_examples}]" if data.max_test_examples > 0 else "test"
    streams = CleanStreams(
        TfdsStream(builder, train_split, **task),
        TfdsStream(builder, val_split, **task) if val_split else None,
        TfdsStream(builder, test_split, **task),
    )
    if (streams.train.class_counts > 0).sum() < 2:
        raise DataError(
            f"the task built from {data.dataset} has one class only ({streams.train.count} training examples)",
            "check --classes / --binary_positive_classes: the positive classes are indices after --classes relabels",
        )
    parts = [f"{streams.train.count} train ({train_split})", f"{streams.test.count} test ({test_split})"]
    if streams.val:
        parts.insert(1, f"{streams.val.count} val ({val_split})")
    print(f"[data] {data.dataset} streamed: {', '.join(parts)}")
    return streams


def load_clean(
    data: DataSettings, relabel_binary: bool = True, dataset: str | None = None
) -> tuple[sources.Split, sources.Split]:
    """(train, test) clean splits as the flags ask: ``dataset`` (default ``--dataset``),
    ``--exclude_index_file`` (CIFAR-10) / ``--cinic10_drop_cifar`` removals, class subset (``--classes``),
    size limits, binary relabelling (``--binary_positive_classes``, unless ``relabel_binary`` is
    False)."""
    dataset = dataset or data.dataset
    train, test = sources.load_dataset(
        dataset,
        data_dir=data.data_dir,
        download=data.download,
        cinic10_dir=data.cinic10_dir,
        test_per_class=data.test_per_class,
    )
    before = len(train) + len(test)
    if data.exclude_index_file and dataset == "cifar10":
        train, test = sources.exclude(
            [train, test], sources.read_exclusion_file(data.exclude_index_file), data.exclude_index_file
        )
    if data.cinic10_drop_cifar and dataset == "cinic10":
        train, test = sources.cinic10_without_cifar(train), sources.cinic10_without_cifar(test)
    if len(train) + len(test) < before:
        removed = before - len(train) - len(test)
        print(f"[data] {dataset}: {removed} of {before} examples excluded; {len(train)} train, {len(test)} test remain")
    if data.classes:
        train, test = train.select_classes(data.classes), test.select_classes(data.classes)
    train, test = train.take(data.max_train_examples), test.take(data.max_test_examples)
    if data.binary_positive_classes and relabel_binary:
        positive = list(data.binary_positive_classes)
        names = ("negative", "positive")
        train = dataclasses.replace(train, labels=transforms.binary_labels(train.labels, positive), class_names=names)
        test = dataclasses.replace(test, labels=transforms.binary_labels(test.labels, positive), class_names=names)
    if len(np.unique(train.labels)) < 2:
        raise DataError(
            f"the task built from {dataset} has one class only ({len(train)} training examples)",
            "check --classes / --binary_positive_classes: the positive classes are indices after --classes relabels",
        )
    return train, test
