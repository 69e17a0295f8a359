"""Offline preparation of the tfds datasets from files copied from a connected machine.

    .venv/bin/python -m robust_keras.main --experiment=prepare_data --dataset=cifar10 \\
        --data_dir=<tfds data dir> --prepare_from=<cifar-10-binary.tar.gz, or a folder holding it>

tfds downloads ``cifar-10-binary.tar.gz`` (MNIST: the four ``*-ubyte.gz`` files) on a connected
machine. Copied here, those files are found in ``--prepare_from`` by their official file names
or, under any name (e.g. tfds' own download folder, which renames them), by their registered
size and sha256. They are copied into ``<data_dir>/downloads/manual/``, where tfds' download
manager takes a file of the expected name instead of downloading it, and tfds prepares the
dataset as usual; its checksum registry still verifies every file.
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
