"""Fail points for fault-injection tests: ``ROBUST_KERAS_FAILPOINT=<name>[:<n>]`` makes the
process SIGKILL itself the n-th time (default 1st) it reaches ``fail_point(<name>)``.

Points: ``after_checkpoint`` (an epoch's checkpoint is on disk, its metrics are not logged yet),
``train_step`` (a training step has run: a process killed mid-epoch),
``mid_metrics_write`` (half of a metrics.jsonl line is on disk), ``disk_full_on_shard`` (writing
an adversarial shard raises ENOSPC instead of dying), ``mid_shard`` (a batch of an adversarial
shard is in its temporary file, not yet renamed into place), ``disk_full_before_checkpoint``,
``disk_full_before_shard``, ``disk_full_before_export`` (the caller fills the file system it is about
to write to, so TensorFlow's own writer meets a real full disk). Unset, a fail point is one
environment lookup.
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def fail_point(name: str) -> bool:
    """True when the fault should happen here now (callers act: :func:`die`, write half a line
    first, or raise the error a real fault would); otherwise False."""
    spec = os.environ.get("ROBUST_KERAS_FAILPOINT")
    if not spec:
        return False
    point, _, count = spec.partition(":")
    if point != name:
        return False
    _hits[name] = _hits.get(name, 0) + 1
    return _hits[name] == int(count or 1)


def die() -> None:
    """SIGKILL this process (no cleanup, no flush: what a crash or an OOM kill leaves)."""
    os.kill(os.getpid(), signal.SIGKILL)


def fill_disk(directory: str) -> None:
    """Fills the file system holding ``directory`` (a ``.filler`` file there, written until the
    device reports ENOSPC); what the next write in it meets is a real full disk."""
    import errno

    chunk = b"\0" * (1 << 20)
    with open(os.path.join(directory, ".filler"), "ab", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
        try:  # the last partial chunk
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
