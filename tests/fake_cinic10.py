"""A tiny CINIC-10 in its real folder layout (``<split>/<class>/<image>.png``, CIFAR-10 images named
``cifar10-<split>-<index>.png``, ImageNet ones ``n<wnid>_<index>.png``), random 32x32 RGB pixels."""

import numpy as np
from PIL import Image


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
