"""A claim of a paper and the verdict of its check on finished runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    paper_value: str  # what the paper reports
    measured: str  # what the runs show, per seed
    holds: bool
    metrics: dict  # numbers for MLflow (name -> value)


@dataclass(frozen=True)
class Claim:
    name: str
    paper: str  # paper and place, e.g. "RB Thm. 1-2"
    statement: str
    quote: str  # the paper's own sentence(s) the claim tests, verbatim (from the paper's text)
    departures: str  # every setting of our runs that differs from the paper's
    flagfile: str  # under flags/reproduce/
    seeds: tuple[int, ...] | None  # None: one run without --seed (an experiment with no randomness)
    minutes: float  # wall time of all its runs, measured on 2 idle cores on 2026-12-04/05 (for the ETA)
    quick: bool  # holds at CPU scale in minutes: part of --quick (and of CI)
    check: Callable[[list[str]], Verdict]  # run directories (one per seed) -> verdict
    figure: str  # the run's figure that shows it (path inside a run directory)
