"""Atomic writes of run files, manifests and markers: a reader sees the old file or the whole new
one, never a part.

Every file is written to ``<path>.<pid>.tmp<suffix>`` (a racing process writing the same file
has its own), flushed and fsynced, then renamed over ``path``. A write that fails (a full disk,
a permission error) removes its temporary file before the error goes on; one killed mid-write
leaves it behind, and :func:`remove_stale_tmp` clears those whose process is gone.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil

_TMP = re.compile(r"\.(\d+)\.tmp[^/]*$")


def tmp_path(path: str, suffix: str = "") -> str:
    """The temporary name this process writes ``path`` under (``suffix`` e.g. ".npy" for writers
    that insist on an extension)."""
    return f"{path}.{os.getpid()}.tmp{suffix}"


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "w", suffix: str = "", **options):
    """``open`` for writing ``path`` atomically (``options`` as open's, e.g. newline=""): yields the
    temporary file, renames it on success."""
    tmp = tmp_path(path, suffix)
    try:
        with open(tmp, mode, **options) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def replaced_by(path: str, suffix: str = ""):
    """For writers that open the file themselves (``tf.io.TFRecordWriter``, ``np.save``, a SavedModel
    exporter): yields the temporary name, renames it to ``path`` on success, removes it on failure.

    A directory (a SavedModel) replaces an earlier ``path`` directory, which is deleted just before
    the rename; a reader then sees the old export, none, or the whole new one, never a mix."""
    tmp = tmp_path(path, suffix)
    try:
        yield tmp
        if os.path.isdir(tmp) and os.path.isdir(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def publish_once(path: str, text: str) -> bool:
    """Creates ``path`` holding ``text`` unless it exists; False (nothing written) when another
    process published it first. The file appears whole (hard link of a finished temporary file)."""
    tmp = tmp_path(path)
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        _remove(tmp)


def _remove(path: str) -> None:
    """Deletes a file or directory tree if it exists."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def write_text(path: str, text: str) -> None:
    with atomic_open(path) as f:
        f.write(text)


def write_json(path: str, obj, **dump_options) -> None:
    options = {"indent": 2, "sort_keys": True, "default": str, **dump_options}
    with atomic_open(path) as f:
        json.dump(obj, f, **options)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    return True


def remove_stale_tmp(directory: str) -> list[str]:
    """Deletes the temporary files (and half-written export directories) in ``directory`` left by
    processes of this host that are gone (killed mid-write); returns their paths. Those of live
    processes are left alone."""
    removed = []
    for path in glob.glob(os.path.join(glob.escape(directory), "*.tmp*")):
        match = _TMP.search(path)
        if match and not pid_alive(int(match.group(1))) and os.path.exists(path):
            _remove(path)
            removed.append(path)
    return removed
