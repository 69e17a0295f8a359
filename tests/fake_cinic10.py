"""A tiny CINIC-10 in its real folder layout (``<split>/<class>/<image>.png``, CIFAR-10 images
named ``cifar10-<split>-<index>.png``, ImageNet ones ``n<wnid>_<index>.png``) or as a copied
archive, random 32x32 RGB pixels."""

import io
import tarfile

import numpy as np
from PIL import Image

from robust_keras.data import sources


def write_cinic(root, classes, splits=("train", "test"), per_class=3, from_cifar=0):
    """Writes ``per_class`` images per class and split under ``root`` (a pathlib.Path), the first
    ``from_cifar`` of each named as CIFAR-10 images (what a Flickr / CIFAR exclusion list matches)."""
    rng = np.random.default_rng(0)
    for split in splits:
        for c, cls in enumerate(classes):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                name = f"cifar10-{split}-{c * 100 + i}.png" if i < from_cifar else f"n0{c}_{i}.png"
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / name)


def write_cinic_archive(path, nested: bool, per_class: int = 2):
    """A tar.gz in CINIC-10's layout (train|valid|test/<class>/*.png, 32 x 32 RGB), at the top or
    under one folder as the official archive may unpack."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as archive:
        for split in ("train", "valid", "test"):
            for cls in sources.CIFAR10_CLASSES:
                for i in range(per_class):
                    png = io.BytesIO()
                    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(png, format="PNG")
                    info = tarfile.TarInfo(f"{'CINIC-10/' if nested else ''}{split}/{cls}/n{i:05d}.png")
                    info.size = png.tell()
                    png.seek(0)
                    archive.addfile(info, png)
