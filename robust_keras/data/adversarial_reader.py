"""Reading adversarial datasets: the format's names, manifest checks, and whole-dataset loading.

The contract (docs/design.md, Contracts) as a reader sees it -- a directory of ``shard-<i>-of-<n>.tfrecord`` files
and ``manifest.json`` (see :mod:`robust_keras.data.adversarial` for how they are written):
:func:`read_manifest` accepts only a complete manifest whose every shard exists with its recorded
sha256 and whose record counts add up; :func:`load` reads a verified dataset into memory;
:func:`peek_manifest` / :func:`is_complete` look without verifying (to resume or reuse).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import numpy as np
import tensorflow as tf

from robust_keras.errors import DataError

FORMAT = "robust_keras.adversarial/v1"
MANIFEST = "manifest.json"
REGENERATE = "delete {} and re-run the command that generated the dataset: it rewrites missing shards only"


@dataclasses.dataclass(frozen=True)
class AdversarialData:
    """A verified adversarial dataset in memory: images float32 (N, H, W, C) in [0, 1].

    Its interface, shared with the streamed :class:`~robust_keras.data.shard_stream.ShardStream`:
    ``manifest``, the columns ``labels`` / ``orig_labels`` / ``indices`` / ``target_hit`` (N,),
    ``len()``, ``read_images(rows)`` and ``streamed`` (False here: ``images`` holds every image)."""

    images: np.ndarray
    labels: np.ndarray
    orig_labels: np.ndarray
    indices: np.ndarray
    target_hit: np.ndarray
    manifest: dict
    streamed = False  # a class attribute, not a field

    def __len__(self) -> int:
        return len(self.labels)

    def read_images(self, rows: np.ndarray) -> np.ndarray:
        """float32 (len(rows), H, W, C): the images of ``rows`` (sorted positions)."""
        return self.images[rows]


def sha256_file(path: str) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shard_name(i: int, n: int) -> str:
    return f"shard-{i:05d}-of-{n:05d}.tfrecord"


def part_manifest_name(worker: int, workers: int) -> str:
    return f"manifest.part-{worker:05d}-of-{workers:05d}.json"


def peek_manifest(directory: str) -> dict | None:
    """The manifest of ``directory`` as written (complete or not, unverified), or None."""
    path = os.path.join(directory, MANIFEST)
    if not os.path.exists(path):
        return None
    return read_json(path)


def read_json(path: str) -> dict:
    """A manifest file (whole or a worker's part) as a dict; DataError if it is not a JSON object."""
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(
            f"{path} is not valid JSON ({e.__class__.__name__} at {getattr(e, 'pos', '?')})",
            REGENERATE.format(os.path.dirname(path)),
        ) from None
    if not isinstance(manifest, dict):
        raise DataError(f"{path} is not a manifest object", REGENERATE.format(os.path.dirname(path)))
    return manifest


def is_complete(directory: str, manifest: dict | None) -> bool:
    """True if ``manifest`` says complete and every shard file it lists exists (not hashed)."""
    return bool(manifest and manifest.get("complete")) and all(
        os.path.exists(os.path.join(directory, s["name"])) for s in manifest["shards"]
    )


def read_manifest(directory: str) -> dict:
    """The manifest of a complete dataset whose shards all exist with the recorded sha256."""
    path = os.path.join(directory, MANIFEST)
    if not os.path.exists(path):
        raise DataError(f"no {MANIFEST} in {directory}", "point at a directory written by robust_keras generation")
    manifest = read_json(path)
    if manifest.get("format") != FORMAT:
        raise DataError(f"{path} is not a {FORMAT} manifest", "regenerate the dataset with this version")
    if not manifest.get("complete"):
        raise DataError(f"adversarial dataset {directory} is incomplete", "re-run the generating command to finish it")
    check_complete(directory, manifest)
    for shard in manifest["shards"]:
        shard_path = os.path.join(directory, shard["name"])
        if not os.path.exists(shard_path):
            raise DataError(f"shard {shard_path} is missing", REGENERATE.format(shard_path))
        if sha256_file(shard_path) != shard["sha256"]:
            raise DataError(f"shard {shard_path} is corrupt (sha256 mismatch)", REGENERATE.format(shard_path))
    return manifest


def check_complete(directory: str, manifest: dict) -> None:
    """The manifest proves its own completeness: every shard the example count implies is listed
    once, under its name, and the record counts add up to ``num_examples``."""
    try:
        n, size = int(manifest["num_examples"]), int(manifest["shard_size"])
        listed = [s["name"] for s in manifest["shards"]]
        records = sum(int(s["num_records"]) for s in manifest["shards"])
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{directory}/{MANIFEST} lacks {e}", REGENERATE.format(directory)) from None
    num_shards = max(1, -(-n // size))
    expected = [shard_name(i, num_shards) for i in range(num_shards)]
    if sorted(listed) != expected or records != n:
        missing = sorted(set(expected) - set(listed))
        raise DataError(
            f"{directory}/{MANIFEST} lists {len(listed)} shards with {records} records, but {num_shards} shards "
            f"with {n} examples were written" + (f" ({missing[0]} missing)" if missing else ""),
            REGENERATE.format(directory),
        )


def load(directory: str) -> AdversarialData:
    """Reads and verifies a whole dataset into memory (see :class:`AdversarialData`)."""
    manifest = read_manifest(directory)
    shape = manifest["image_shape"]
    spec = {k: tf.io.FixedLenFeature([], tf.int64) for k in ("label", "orig_label", "index", "target_hit")}
    spec["image"] = tf.io.FixedLenFeature([], tf.string)
    columns: dict[str, list] = {k: [] for k in spec}
    for shard in manifest["shards"]:
        count = 0
        path = os.path.join(directory, shard["name"])
        for raw in tf.data.TFRecordDataset(path).batch(1024):
            parsed = tf.io.parse_example(raw, spec)
            for k, v in parsed.items():
                columns[k].append(v.numpy())
            count += int(raw.shape[0])
        if count != shard["num_records"]:
            raise DataError(
                f"shard {path} holds {count} records, manifest says {shard['num_records']}", REGENERATE.format(path)
            )
    raw_images = np.concatenate(columns["image"]) if columns["image"] else np.zeros([0], object)
    flat = np.frombuffer(b"".join(raw_images), dtype="<f4")
    per_image = int(np.prod(shape))
    if any(len(r) != 4 * per_image for r in raw_images):
        raise DataError(
            f"images in {directory} do not have the manifest's image_shape {shape}", REGENERATE.format(directory)
        )
    images = flat.reshape([-1, *shape])
    cat = lambda k: np.concatenate(columns[k]).astype(np.int64)  # noqa: E731
    return AdversarialData(
        images, cat("label"), cat("orig_label"), cat("index"), cat("target_hit").astype(bool), manifest
    )
