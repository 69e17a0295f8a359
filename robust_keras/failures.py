"""One line for failures of the machine rather than of the code: a full disk, memory running out,
a lost cluster peer. ``main`` prints it (``error: <cause> -- <fix>``) instead of a traceback;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import re
import sys

from robust_keras.errors import first_line

DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO}
_DISK_TEXT = ("No space left on device", "Disk quota exceeded", "Read-only file system")
_KEPT = "finished shards, checkpoints and metrics are kept"


def describe_failure(error: BaseException, multi_worker: bool = False) -> str | None:
    """``cause -- fix`` for an environment failure, or None if ``error`` is not one."""
    if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
        return (
            f"{error.strerror} while writing {error.filename or 'the run directory'} -- free space or fix "
            f"permissions, then rerun the same command: {_KEPT}"
        )
    tf = sys.modules.get("tensorflow")
    if tf is None or not isinstance(error, tf.errors.OpError):
        return None
    text = str(error)
    if any(phrase in text for phrase in _DISK_TEXT):
        match = re.search(r"(\S+); (?:No space left on device|Disk quota exceeded|Read-only file system)", text)
        where = re.sub(r"(_temp|\.\d+\.tmp)/.*$", "", match.group(1)) if match else "the run directory"
        reason = next(phrase for phrase in _DISK_TEXT if phrase in text)
        return f"{reason} while writing {where} -- free space, then rerun the same command: {_KEPT}"
    if isinstance(error, tf.errors.ResourceExhaustedError):
        return (
            f"out of memory ({first_line(error)}) -- lower --batch_size / --eval_batch_size, or run on a device "
            "with more memory"
        )
    if multi_worker and isinstance(
        error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError)
    ):
        return (
            f"a worker of the cluster was lost ({type(error).__name__}) -- rerun the same command on every host: "
            "training resumes from the chief's last checkpoint in the same MLflow run"
        )
    return None
