"""CIFAR-10 prepared offline from a copied archive: a tiny fake ``cifar-10-binary.tar.gz`` in the
real format goes through the documented command's code path (tfds' manual-download route,
checksum checked against the registry the test points at the fake archive)."""

import hashlib
import io
import os
import tarfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import checksums

from robust_keras.data import prepare, sources
from robust_keras.errors import DataError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CLASSES = "\n".join(sources.CIFAR10_CLASSES) + "\n"


def _fake_archive(path, per_file=3):
    """cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin: records of 1 label byte + 3072
    pixel bytes (R, G, B planes of 32x32), plus batches.meta.txt."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        for i, name in enumerate(names):
            labels = (np.arange(per_file) + i) % 10
            records = [bytes([y]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes() for y in labels]
            _add(tar, f"cifar-10-batches-bin/{name}", b"".join(records))
        _add(tar, "cifar-10-batches-bin/batches.meta.txt", CLASSES.encode())


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _registry_for(path):
    """tfds' checksum registry entry for the official URL, pointed at the fake archive."""
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    return {URL: checksums.UrlInfo(size=len(data), checksum=sha, filename="cifar-10-binary.tar.gz")}


def test_cifar10_prepared_from_a_copied_archive(tmp_path, monkeypatch):
    copied = tmp_path / "copied" / "renamed_by_tfds.tar.gz"  # any name: found by size + sha256
    copied.parent.mkdir()
    _fake_archive(tmp_path / "cifar-10-binary.tar.gz")
    os.replace(tmp_path / "cifar-10-binary.tar.gz", copied)
    monkeypatch.setattr(tfds.image_classification.Cifar10, "url_infos", _registry_for(copied))
    data_dir = tmp_path / "tfds"
    prepare.prepare("cifar10", str(data_dir), str(copied.parent), log=lambda _: None)
    assert (data_dir / "downloads" / "manual" / "cifar-10-binary.tar.gz").exists()
    train, test = sources.load_dataset("cifar10", data_dir=str(data_dir), download=False)
    assert train.images.shape == (15, 32, 32, 3) and len(test) == 3
    assert sorted(train.ids)[:2] == ["train_00000", "train_00001"] and train.class_names[0] == "airplane"


def test_missing_archive_names_what_to_copy(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="lacks cifar-10-binary.tar.gz"):
        prepare.prepare("cifar10", str(tmp_path / "tfds"), str(tmp_path / "empty"), log=lambda _: None)
