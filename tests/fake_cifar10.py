"""A tiny fake ``cifar-10-binary.tar.gz`` in the real format, and CIFAR-10 prepared from it by tfds
(the manual-download route of data/prepare.py), for tests that need prepared tfds data offline."""

import hashlib
import io
import tarfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import checksums

from robust_keras.data import prepare, sources

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CLASSES = "\n".join(sources.CIFAR10_CLASSES) + "\n"


def fake_archive(path, per_file=3):
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


def registry_for(path):
    """tfds' checksum registry entry for the official URL, pointed at the fake archive."""
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    return {URL: checksums.UrlInfo(size=len(data), checksum=sha, filename="cifar-10-binary.tar.gz")}


def prepared_cifar10(root, per_file: int) -> str:
    """tfds data dir under ``root`` holding CIFAR-10 prepared from a fake archive (5 * per_file
    train and per_file test images)."""
    copied = root / "copied" / "cifar-10-binary.tar.gz"
    copied.parent.mkdir(parents=True)
    fake_archive(copied, per_file)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tfds.image_classification.Cifar10, "url_infos", registry_for(copied))
        prepare.prepare("cifar10", str(root / "tfds"), str(copied.parent), log=lambda _: None)
    return str(root / "tfds")
