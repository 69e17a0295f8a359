"""Adversarial datasets as sharded TFRecords with a manifest (the contract of docs/design.md, Contracts).

Layout of a dataset directory::

    shard-00000-of-00005.tfrecord ...   tf.train.Example records
    manifest.json                       everything needed to trust and reproduce the shards

Each record holds ``image`` (float32 raw bytes, shape in the manifest), ``label`` (the training
label, e.g. the target t), ``orig_label`` (y), ``index`` (position in the source split) and
``target_hit`` (1 if the source model predicts ``label`` on ``image``).

Generation writes one shard at a time (a temporary file of its own process, then an atomic
rename), records its record count and sha256 in the manifest, and sets ``"complete": true`` last.
Every shard is a pure function of (inputs, attack, seed, shard number), so a killed run resumes at
the first missing shard and yields byte-identical files, and two processes racing on one shard
write the same bytes. Readers refuse incomplete or mismatched data.

Reading (manifest checks, loading into memory) is :mod:`robust_keras.data.adversarial_reader`,
streaming from the shards :mod:`robust_keras.data.shard_stream`; this module only writes.

Split generation: worker w of W (``part=(w, W)``) writes shards i with i mod W = w and records
them in its own ``manifest.part-<w>-of-<W>.json``; :func:`merge` verifies every part and shard and
writes ``manifest.json``, byte-identical to a one-process run's.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from robust_keras import progress
from robust_keras.atomic_files import remove_stale_tmp, replaced_by, write_json
from robust_keras.data.adversarial_reader import (
    FORMAT,
    MANIFEST,
    check_complete,
    part_manifest_name,
    read_json,
    sha256_file,
    shard_name,
)
from robust_keras.errors import DataError
from robust_keras.faults import die, fail_point, fill_disk

_SEED_STRIDE = 1_000_003  # separates per-shard attack seeds

AttackFn = Callable[[np.ndarray, np.ndarray, tuple[int, int]], tuple[np.ndarray, np.ndarray]]


def _example(image: np.ndarray, label: int, orig_label: int, index: int, hit: bool) -> bytes:
    int_feature = lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v)]))  # noqa: E731
    features = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.astype("<f4").tobytes()])),
        "label": int_feature(label),
        "orig_label": int_feature(orig_label),
        "index": int_feature(index),
        "target_hit": int_feature(hit),
    }
    # deterministic=True: map order is otherwise per-process, and resumed shards must hash the same.
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString(deterministic=True)


def _shard_ok(directory: str, shard: dict) -> bool:
    path = os.path.join(directory, shard["name"])
    return os.path.exists(path) and sha256_file(path) == shard["sha256"]


def generate(
    directory: str,
    *,
    images: np.ndarray,
    orig_labels: np.ndarray,
    targets: np.ndarray,
    attack_fn: AttackFn,
    spec: dict,
    shard_size: int,
    batch_size: int,
    seed: int,
    log: Callable[[str], None] = print,
    part: tuple[int, int] = (0, 1),
) -> dict:
    """Attacks ``images`` toward ``targets`` and writes the dataset, resuming if interrupted.

    Args:
      images: float32 (N, H, W, C) in [0, 1], the clean source split in order.
      orig_labels, targets: int (N,) true labels y and attack targets t.
      attack_fn: (x batch, t batch, stateless seed) -> (x_adv batch, target_hit batch).
      spec: JSON-able description that must match for a resume (source model + hash, attack,
        split...); stored in the manifest.
      shard_size: examples per shard; the unit of resumption.
      part: (w, W): write only shards i with i mod W = w, into part manifest w (then :func:`merge`).
    Returns:
      The complete manifest (of the part, for W > 1).
    Raises:
      DataError: ``directory`` holds a dataset generated with a different spec.
    """

    def make_batch(start: int, stop: int, seed_pair: tuple[int, int]):
        return attack_fn(images[start:stop], targets[start:stop], seed_pair)

    return synthesize(
        directory,
        image_shape=images.shape[1:],
        labels=targets,
        orig_labels=orig_labels,
        make_batch=make_batch,
        spec=spec,
        shard_size=shard_size,
        batch_size=batch_size,
        seed=seed,
        log=log,
        part=part,
    )


def synthesize(
    directory: str,
    *,
    image_shape: tuple[int, ...],
    labels: np.ndarray,
    orig_labels: np.ndarray,
    make_batch: Callable[[int, int, tuple[int, int]], tuple[np.ndarray, np.ndarray]],
    spec: dict,
    shard_size: int,
    batch_size: int,
    seed: int,
    log: Callable[[str], None] = print,
    part: tuple[int, int] = (0, 1),
) -> dict:
    """Writes a dataset whose example i (index i of the source split) is made by
    ``make_batch(start, stop, seed_pair)`` -> (images float32 (stop-start, H, W, C), hits bool),
    with the same resume, split and verification rules as :func:`generate` (which is this with an
    attack). ``seed_pair`` = (seed, per-shard-and-batch stream); ``make_batch`` must be a pure
    function of its arguments for resumed shards to be byte-identical.
    """

    def produce(start: int, stop: int, shard: int, b: int):
        return make_batch(start, stop, (seed, shard * _SEED_STRIDE + b))

    columns = (labels, orig_labels, np.arange(len(labels)))
    return _write(directory, tuple(image_shape), spec, seed, columns, produce, shard_size, batch_size, log, part)


def write_arrays(
    directory: str,
    *,
    images: np.ndarray,
    labels: np.ndarray,
    orig_labels: np.ndarray,
    indices: np.ndarray,
    target_hit: np.ndarray,
    spec: dict,
    shard_size: int,
    log: Callable[[str], None] = print,
) -> dict:
    """Writes examples already in memory (e.g. a subset of another adversarial dataset) under the
    same contract and with the same resume and verification rules as :func:`generate`.

    Args:
      images: float32 (N, H, W, C) in [0, 1]; labels, orig_labels, indices: int (N,);
      target_hit: bool (N,).
    """

    def produce(start: int, stop: int, shard: int, b: int):
        return images[start:stop], target_hit[start:stop]

    columns = (labels, orig_labels, indices)
    return _write(directory, images.shape[1:], spec, 0, columns, produce, shard_size, max(1, shard_size), log, (0, 1))


def _write(directory, image_shape, spec, seed, columns, produce, shard_size, batch_size, log, part) -> dict:
    """Writes every missing shard of ``part`` = (w, W) (``produce(start, stop, shard, batch)`` ->
    (images, hits)), records it in the (part) manifest, and sets ``complete`` last; ``columns`` =
    (labels, orig_labels, indices), int (N,) each."""
    os.makedirs(directory, exist_ok=True)
    n = len(columns[0])
    num_shards = max(1, -(-n // shard_size))
    worker, workers = part
    mine = [i for i in range(num_shards) if i % workers == worker]
    header = {
        "format": FORMAT,
        "spec": spec,
        "seed": seed,
        "num_examples": n,
        "shard_size": shard_size,
        "image_shape": list(image_shape),
        "image_dtype": "float32",
    }
    manifest_path = os.path.join(directory, MANIFEST if workers == 1 else part_manifest_name(worker, workers))
    done: dict[str, dict] = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            previous = json.load(f)
        if {k: previous.get(k) for k in header} != json.loads(json.dumps(header)):
            raise DataError(
                f"{directory} already holds an adversarial dataset generated with other settings",
                "pass a new --dataset_dir, or delete that directory to regenerate",
            )
        done = {s["name"]: s for s in previous.get("shards", []) if _shard_ok(directory, s)}  # bad ones are redone
        if previous.get("complete") and len(done) == len(mine):
            log(f"[dataset] {manifest_path} is complete and verified; reusing it")
            return previous
    if done:
        log(f"[dataset] resuming: {len(done)}/{len(mine)} shards already written and verified")
    manifest = {**header, "complete": False, "shards": sorted(done.values(), key=lambda s: s["name"])}
    write_json(manifest_path, manifest)
    meter = progress.LoopMeter()
    for i in mine:
        name = shard_name(i, num_shards)
        if name in done:
            continue
        lo, hi = i * shard_size, min(n, (i + 1) * shard_size)
        manifest["shards"].append(_write_shard(directory, name, columns, lo, hi, produce, batch_size, i))
        manifest["shards"].sort(key=lambda s: s["name"])
        write_json(manifest_path, manifest)
        meter.add(hi - lo)
        remaining = sum(min(n, (j + 1) * shard_size) - j * shard_size for j in mine) - sum(
            s["num_records"] for s in manifest["shards"]
        )
        log(f"[dataset] shard {i + 1}/{num_shards} written ({hi - lo} examples, {meter.outlook(remaining)})")
    if workers > 1:  # this part is done; merge() writes manifest.json once every part is
        manifest["complete"] = True
        write_json(manifest_path, manifest)
        return manifest
    return _finish(manifest_path, manifest)


def _finish(manifest_path: str, manifest: dict) -> dict:
    """Marks a manifest holding every shard complete (with the target hit rate) and writes it."""
    manifest = {**manifest, "complete": True}
    manifest["target_hit_rate"] = sum(s["target_hits"] for s in manifest["shards"]) / max(1, manifest["num_examples"])
    write_json(manifest_path, manifest)
    remove_stale_tmp(os.path.dirname(manifest_path))  # temporary shards of killed writers: the dataset is whole
    return manifest


def merge(directory: str, workers: int, log: Callable[[str], None] = print) -> dict:
    """Joins the W part manifests of a split generation into ``manifest.json`` after checking
    that every part is complete, all parts describe the same dataset, and every shard exists with
    its recorded sha256; ``complete`` is written last. Returns the manifest.

    Raises:
      DataError: naming the missing or unfinished part (the worker to re-run) or the bad shard.
    """
    parts = []
    for worker in range(workers):
        path = os.path.join(directory, part_manifest_name(worker, workers))
        if not os.path.exists(path):
            raise DataError(f"{path} does not exist", f"run worker {worker} of {workers} (it has not started)")
        part = read_json(path)
        if not part.get("complete"):
            raise DataError(f"{path} is unfinished", f"re-run worker {worker} of {workers}: it resumes")
        parts.append(part)
    header = {k: v for k, v in parts[0].items() if k not in ("complete", "shards")}
    for worker, part in enumerate(parts[1:], 1):
        if {k: v for k, v in part.items() if k not in ("complete", "shards")} != header:
            raise DataError(
                f"part {worker} of {directory} was generated with other settings than part 0",
                "re-run every worker with the same flags",
            )
    shards = sorted((s for part in parts for s in part["shards"]), key=lambda s: s["name"])
    for shard in shards:
        if not _shard_ok(directory, shard):
            owner = int(shard["name"].split("-")[1]) % workers
            raise DataError(
                f"shard {directory}/{shard['name']} is missing or corrupt",
                f"delete it and re-run worker {owner} of {workers}: it rewrites that shard only",
            )
    manifest = {**header, "complete": False, "shards": shards}
    check_complete(directory, manifest)
    manifest = _finish(os.path.join(directory, MANIFEST), manifest)
    log(f"[dataset] merged {workers} parts: {len(shards)} shards, {manifest['num_examples']} examples verified")
    return manifest


def _write_shard(directory, name, columns, lo, hi, produce, batch_size, shard):
    labels, orig_labels, indices = columns
    path = os.path.join(directory, name)
    hits = 0
    if fail_point("disk_full_before_shard"):
        fill_disk(directory)
    with replaced_by(path) as tmp:  # a racing process writing the same shard has its own; a failed write leaves none
        if fail_point("disk_full_on_shard"):  # fault injection: what a full disk raises mid-generation
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), tmp)
        with tf.io.TFRecordWriter(tmp) as writer:
            for b, start in enumerate(range(lo, hi, batch_size)):
                stop = min(hi, start + batch_size)
                x_adv, hit = produce(start, stop, shard, b)
                x_adv, hit = np.asarray(x_adv, np.float32), np.asarray(hit, bool)
                hits += int(hit.sum())
                for j in range(stop - start):
                    writer.write(
                        _example(x_adv[j], labels[start + j], orig_labels[start + j], indices[start + j], hit[j])
                    )
                if fail_point("mid_shard"):  # fault injection: killed with this shard's records partly on disk
                    writer.flush()
                    die()
    return {"name": name, "num_records": hi - lo, "first_index": lo, "target_hits": hits, "sha256": sha256_file(path)}
