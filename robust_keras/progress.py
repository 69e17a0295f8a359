"""Stage-level progress and an overall ETA for multi-stage runs (e.g. source training -> D_det
generation -> N2 training).

Each stage's work is estimated up front in image passes: a training epoch over N images costs
3N (forward, backward, update), an attack step over N images 2N (forward and a backward to the
input only; measured on the quickstart: a PGD pass costs about half a training pass), an
evaluation N. The ETA is the remaining
work times the seconds per pass measured on the stages finished so far, so it is printed from the
end of the first stage that does work. Stages a resumed run does not enter (their results were
kept) count as done and cost nothing.

Where the wall time of a run went: stages (and any block under :func:`timed`) add their seconds to
a per-process record; :func:`wall_time_summary` turns it into the line main prints at the end of
every run (start-up, MLflow, each stage, the rest).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

_TIMES: dict[str, float] = {}  # name -> seconds, in the order first timed


def record(name: str, seconds: float) -> None:
    """Adds ``seconds`` to the time spent on ``name`` in this process."""
    _TIMES[name] = _TIMES.get(name, 0.0) + seconds


@contextlib.contextmanager
def timed(name: str):
    """Times the block into the run's wall-time record under ``name``."""
    start = time.time()
    try:
        yield
    finally:
        record(name, time.time() - start)


def wall_time_summary(total: float) -> tuple[str, dict[str, float]]:
    """(one line, {name: seconds}) of where ``total`` seconds went; what no block claimed is "rest"
    (tracing, plots, export, uploads, everything between stages)."""
    times = dict(_TIMES)
    times["rest"] = max(0.0, total - sum(times.values()))
    parts = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in times.items())
    return f"wall time {total:.1f}s: {parts}", times


def training_passes(epochs: int, train_images: int, eval_images: int = 0) -> float:
    """Image passes of ``epochs`` of training with ``eval_images`` evaluated after each epoch."""
    return float(epochs * (3 * train_images + eval_images))


def attack_passes(images: int, steps: int, restarts: int = 1) -> float:
    """Image passes of an iterative attack (a forward and an input-gradient pass per step and restart)."""
    return float(2 * images * steps * restarts)


class StagePlan:
    """Prints ``[stage i/n] name`` when a stage starts and, when it ends, its time, the share of
    the whole run done and the ETA of the rest."""

    def __init__(self, stages: list[tuple[str, float]], log: Callable[[str], None] = print):
        self.names = [name for name, _ in stages]
        self.work = dict(stages)
        self.state = dict.fromkeys(self.names, "pending")  # pending | running | done | skipped
        self.seconds = 0.0
        self.log = log
        total = sum(self.work.values())
        plan = ", ".join(f"{name} ({100 * w / total:.0f}%)" for name, w in stages) if total else ""
        log(f"[stages] {len(stages)} stages, share of the estimated work: {plan}")

    @contextlib.contextmanager
    def stage(self, name: str):
        index = self.names.index(name)
        for earlier in self.names[:index]:  # not entered: kept from an earlier attempt
            if self.state[earlier] == "pending":
                self.state[earlier] = "skipped"
        self.state[name] = "running"
        self.log(f"[stage {index + 1}/{len(self.names)}] {name}")
        start = time.time()
        yield
        elapsed = time.time() - start
        record(name, elapsed)
        self.seconds += elapsed
        self.state[name] = "done"
        self.log(f"[stage {index + 1}/{len(self.names)}] {name} finished in {elapsed:.0f}s{self._outlook()}")

    def _outlook(self) -> str:
        done = sum(self.work[n] for n in self.names if self.state[n] == "done")
        left = sum(self.work[n] for n in self.names if self.state[n] in ("pending", "running"))
        if not left or done <= 0:
            return ""
        eta = left * self.seconds / done
        return f"; {100 * done / (done + left):.0f}% of the work done, ETA of the rest ~{_duration(eta)}"


class LoopMeter:
    """Rate and ETA inside one long loop (shards written, batches attacked, radii swept), the line
    every such loop prints: the rate counts only the units this attempt did itself (units kept from
    an earlier attempt cost nothing), the ETA is what is left at that rate."""

    def __init__(self, unit: str = "ex"):
        self.unit = unit
        self.units = 0.0
        self.start = time.time()

    def add(self, units: float) -> None:
        """``units`` more done by this attempt."""
        self.units += units

    def outlook(self, left: float) -> str:
        """``"12.5 ex/s, ETA 40s"`` (``"60.0 s/radius, ..."`` below one unit a second) for ``left``
        units still to do; ``"kept from earlier attempts"`` while this attempt has done nothing."""
        if self.units <= 0:
            return "kept from earlier attempts"
        rate = self.units / max(time.time() - self.start, 1e-9)
        speed = f"{rate:.1f} {self.unit}/s" if rate >= 1 else f"{1 / rate:.1f} s/{self.unit}"
        return f"{speed}, ETA {_duration(left / rate)}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
