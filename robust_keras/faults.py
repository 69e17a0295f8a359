"""Fail points for fault-injection tests: ``ROBUST_KERAS_FAILPOINT=<name>[:<n>]`` makes the
process SIGKILL itself the n-th time (default 1st) it reaches ``fail_point(<name>)``.

Points: ``after_checkpoint`` (an epoch's checkpoint is on disk, its metrics are not logged yet),
``train_step`` (a training step has run: a process killed mid-epoch),
``mid_metrics_write`` (half of a metrics.jsonl line is on disk), ``disk_full_on_shard`` (writing
an adversarial shard raises ENOSPC instead of dying), ``mid_shard`` (a batch of an adversarial
shard is in its temporary file, not yet renamed into place). Unset, a fail point is one environment
lookup.
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
