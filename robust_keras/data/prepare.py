"""Offline preparation of the tfds datasets from files copied from a connected machine.

    .venv/bin/python -m robust_keras.main --experiment=prepare_data --dataset=cifar10 \\
        --data_dir=<tfds data dir> --prepare_from=<cifar-10-binary.tar.gz, or a folder holding it>

tfds downloads ``cifar-10-binary.tar.gz`` (MNIST: the four ``*-ubyte.gz`` files) on a connected
machine. Copied here, those files are found in ``--prepare_from`` by their official file names
or, under any name (e.g. tfds' own download folder, which renames them), by their registered
size and sha256. They are copied into ``<data_dir>/downloads/manual/``, where tfds' download
manager takes a file of the expected name instead of downloading it, and tfds prepares the
dataset as usual; its checksum registry still verifies every file.

CINIC-10 is not in tfds: :func:`prepare_cinic10` unpacks a copied ``CINIC-10.tar.gz`` into
``--cinic10_dir`` and checks its folder layout::

    .venv/bin/python -m robust_keras.main --experiment=prepare_data --dataset=cinic10 \\
        --cinic10_dir=<where to unpack> --prepare_from=<CINIC-10.tar.gz>
"""

from __future__ import annotations

import os
import shutil

from robust_keras.data.adversarial import sha256_file
from robust_keras.errors import DataError


def prepare(name: str, data_dir: str, source: str, log=print) -> str:
    """Prepares tfds dataset ``name`` under ``data_dir`` from the files in ``source`` (a file or a
    folder, searched recursively); returns the prepared dataset's directory."""
    import tensorflow_datasets as tfds

    if not os.path.exists(source):
        raise DataError(f"--prepare_from={source} does not exist", "pass the copied archive or the folder holding it")
    builder = tfds.builder(name, data_dir=data_dir)
    expected = {info.filename or url.rsplit("/", 1)[-1]: info for url, info in (builder.url_infos or {}).items()}
    if not expected:
        raise DataError(f"tfds has no download registry for {name}", "prepare it on a connected machine instead")
    found = _find(source, expected)
    missing = sorted(set(expected) - set(found))
    if missing:
        raise DataError(
            f"{source} lacks {', '.join(missing)} (the files tfds downloads for {name})",
            "copy them from a connected machine (tfds' downloads folder works too) and pass that folder",
        )
    manual = os.path.join(data_dir, "downloads", "manual")
    os.makedirs(manual, exist_ok=True)
    for filename, path in sorted(found.items()):
        target = os.path.join(manual, filename)
        if not os.path.exists(target) or not os.path.samefile(path, target):
            log(f"[prepare] {path} -> {target}")
            shutil.copyfile(path, target)
    log(f"[prepare] tfds prepares {name} under {data_dir} (no download)")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
    return builder.data_dir


def _find(source: str, expected: dict) -> dict[str, str]:
    """{official file name: path} of the expected files in ``source``, by name or size + sha256."""
    paths = (
        [source]
        if os.path.isfile(source)
        else [os.path.join(root, f) for root, _, files in os.walk(source) for f in sorted(files)]
    )
    by_size = {info.size: name for name, info in expected.items()}
    found = {}
    for path in paths:
        base = os.path.basename(path)
        if base in expected:
            found.setdefault(base, path)
        elif os.path.getsize(path) in by_size:  # a renamed download: trust its registered checksum
            name = by_size[os.path.getsize(path)]
            if sha256_file(path) == expected[name].checksum:
                found.setdefault(name, path)
    return found


CINIC10_SPLITS = ("train", "valid", "test")


def prepare_cinic10(source: str, target: str, log=print) -> str:
    """CINIC-10 (not in tfds) from a copied archive: ``source`` is ``CINIC-10.tar.gz`` (or any
    tar archive holding ``train|valid|test/<class>/*.png``, at its top or one folder down) or a
    folder already in that layout. Extracts into ``target`` (written under a temporary name and
    renamed, so ``target`` is complete or absent), checks the layout -- the same ten classes in
    every split, PNGs in each -- and returns the root to pass as ``--cinic10_dir``."""
    import tarfile
    import tempfile

    from robust_keras.atomic_files import replaced_by

    if not os.path.exists(source):
        raise DataError(f"--prepare_from={source} does not exist", "pass the copied CINIC-10.tar.gz or its folder")
    if os.path.isdir(source):
        root = _cinic10_root(source)
        counts = _cinic10_counts(root)
        log(f"[prepare] {root} already holds CINIC-10 ({counts}); nothing to extract")
        return root
    if not tarfile.is_tarfile(source):
        raise DataError(f"{source} is not a tar archive", "pass CINIC-10.tar.gz as downloaded, or its unpacked folder")
    if os.path.exists(target):
        if os.path.isdir(target) and _has_cinic10_layout(target):
            log(f"[prepare] {target} already holds CINIC-10 ({_cinic10_counts(target)})")
            return target
        raise DataError(f"--cinic10_dir={target} exists and is not a CINIC-10 folder", "pass a new or empty path")
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    with (
        replaced_by(target) as tmp,
        tempfile.TemporaryDirectory(dir=parent) as unpacked,
        tarfile.open(source) as archive,
    ):
        log(f"[prepare] extracting {source} ...")
        archive.extractall(unpacked, filter="data")  # no absolute paths, no escapes, no devices
        root = _cinic10_root(unpacked)
        counts = _cinic10_counts(root)
        os.rename(root, tmp)
    log(f"[prepare] CINIC-10 is ready in {target} ({counts}); use it with --dataset=cinic10 --cinic10_dir={target}")
    return target


def _has_cinic10_layout(folder: str) -> bool:
    return all(os.path.isdir(os.path.join(folder, split)) for split in CINIC10_SPLITS)


def _cinic10_root(folder: str) -> str:
    """``folder`` or its only sub-folder, whichever holds train/, valid/ and test/."""
    if _has_cinic10_layout(folder):
        return folder
    subs = [os.path.join(folder, d) for d in sorted(os.listdir(folder)) if os.path.isdir(os.path.join(folder, d))]
    if len(subs) == 1 and _has_cinic10_layout(subs[0]):
        return subs[0]
    raise DataError(
        f"no train/, valid/ and test/ folders in {folder} (nor one level down)",
        "pass the CINIC-10 archive as downloaded (train|valid|test/<class>/*.png)",
    )


def _cinic10_counts(root: str) -> str:
    """ "train 90000, valid 90000, test 90000 images of 10 classes", after checking every split
    has the same class folders with PNGs in each."""
    classes, counts = None, []
    for split in CINIC10_SPLITS:
        split_dir = os.path.join(root, split)
        names = sorted(d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d)))
        if classes is not None and names != classes:
            raise DataError(
                f"{split_dir} has classes {names}, {CINIC10_SPLITS[0]}/ has {classes}", "re-copy the archive"
            )
        classes = names
        pngs = [len([f for f in os.listdir(os.path.join(split_dir, c)) if f.lower().endswith(".png")]) for c in names]
        if not names or min(pngs) == 0:
            raise DataError(f"{split_dir} has a class folder without PNGs (or none)", "re-copy the archive")
        counts.append(f"{split} {sum(pngs)}")
    return f"{', '.join(counts)} images of {len(classes)} classes"
