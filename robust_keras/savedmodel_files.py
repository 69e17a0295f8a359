"""Reading a SavedModel directory from an untrusted source without being led outside it.

A SavedModel is a directory: ``saved_model.pb``, ``fingerprint.pb``, ``metadata.json`` (ours),
``variables/`` and ``assets/``. A hostile copy can make any of them a symlink to a file elsewhere
(another checkpoint, ``/dev/zero``), a FIFO that blocks the reader forever, or a file far larger
than any model needs. :func:`check_layout` walks the directory once, before TensorFlow opens any
of it, and refuses anything but regular files and folders that stay inside the model directory
(symlinks resolved); :func:`read_capped` reads one file with a size cap, never blocking and never
following a symlink swapped in after the walk; :func:`read_saved_model` and :func:`read_metadata`
parse the graph and our metadata through it.
"""

from __future__ import annotations

import json
import os
import stat

from robust_keras.errors import ModelError

GRAPH_FILE = "saved_model.pb"
METADATA_FILE = "metadata.json"
GRAPH_CAP = 512 * 2**20  # bytes; a model's graph (weights live in variables/) is a few MB
SMALL_CAP = 2**20  # bytes; fingerprint.pb and metadata.json
MAX_ENTRIES = 100_000  # files and folders in one model directory
_CAPS = {GRAPH_FILE: GRAPH_CAP, "fingerprint.pb": SMALL_CAP, METADATA_FILE: SMALL_CAP}


def _refuse(directory: str, cause: str) -> ModelError:
    return ModelError(
        f"SavedModel {directory} {cause}",
        "copy the model again as plain files (no links out of its directory, no pipes or devices)",
    )


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def check_layout(directory: str) -> None:
    """Raises ModelError unless every entry under ``directory`` is a regular file or a folder
    inside it (a symlink counts as what it resolves to), within :data:`MAX_ENTRIES`, and the
    files this module reads are within their size caps."""
    root = os.path.realpath(directory)
    if not os.path.isdir(root):
        raise _refuse(directory, "is not a directory")
    count = 0
    for parent, dirs, files in os.walk(root, followlinks=False, onerror=_raise):
        for name in dirs + files:
            count += 1
            if count > MAX_ENTRIES:
                raise _refuse(directory, f"holds more than {MAX_ENTRIES} files")
            path = os.path.join(parent, name)
            target = os.path.realpath(path)
            if not _inside(root, target):
                raise _refuse(directory, f"links {os.path.relpath(path, root)} to {target}, outside the model")
            mode = os.stat(target).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise _refuse(directory, f"holds {os.path.relpath(path, root)}, which is not a regular file")
    for name, cap in _CAPS.items():
        path = os.path.join(root, name)
        if os.path.exists(path) and os.stat(path).st_size > cap:
            raise _refuse(directory, f"has a {name} of {os.stat(path).st_size} bytes (limit {cap})")


def _raise(error: OSError) -> None:
    raise error


def read_capped(directory: str, name: str) -> bytes:
    """The bytes of ``directory/name``, a regular file of at most its cap (:data:`GRAPH_CAP` for
    the graph, :data:`SMALL_CAP` otherwise) inside ``directory`` once links are resolved; opened
    without following a link swapped in after that and without blocking, so a file replaced after
    :func:`check_layout` cannot redirect or stall the read."""
    cap = _CAPS.get(name, SMALL_CAP)
    root = os.path.realpath(directory)
    path = os.path.realpath(os.path.join(root, name))  # a link inside the model, resolved
    if not _inside(root, path):
        raise _refuse(directory, f"links {name} to {path}, outside the model")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        raise _refuse(directory, f"has no readable {name} ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(directory, f"holds {name}, which is not a regular file")
        data = f.read(cap + 1)
    if len(data) > cap:
        raise _refuse(directory, f"has a {name} of more than {cap} bytes")
    return data


def read_metadata(directory: str) -> dict:
    """``metadata.json`` as a dict ({} when the model has none, as foreign models do).

    Raises:
      ModelError: the file is not a JSON object of at most :data:`SMALL_CAP` bytes.
    """
    if not os.path.lexists(os.path.join(directory, METADATA_FILE)):
        return {}
    try:
        meta = json.loads(read_capped(directory, METADATA_FILE).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(
            f"SavedModel {directory} has a malformed {METADATA_FILE} ({type(e).__name__})",
            f"delete {METADATA_FILE} (it is optional) or copy the model again",
        ) from None
    if not isinstance(meta, dict):
        raise ModelError(
            f"SavedModel {directory} has a {METADATA_FILE} that is not a JSON object",
            f"delete {METADATA_FILE} (it is optional) or copy the model again",
        )
    return meta


def read_saved_model(directory: str):
    """The parsed ``saved_model.pb`` of ``directory`` (read through :func:`read_capped`).

    Raises:
      ModelError: the file is unreadable, too large or not a SavedModel proto.
    """
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    data = read_capped(directory, GRAPH_FILE)
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:  # a truncated, foreign or too deeply nested file
        raise ModelError(
            f"SavedModel {directory} has an unreadable saved_model.pb ({type(e).__name__})",
            "re-export or copy the model again: the file is truncated or not a SavedModel",
        ) from None
    return proto


def is_tf2(proto) -> bool:
    """The test ``tf.saved_model.load`` makes to pick its TF2 loader."""
    return len(proto.meta_graphs) == 1 and proto.meta_graphs[0].HasField("object_graph_def")
