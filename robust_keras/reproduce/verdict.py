"""A claim of a paper and the verdict of its check on finished runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


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
    minutes: float  # wall time of all its runs on 2 cores of an AMD EPYC without AVX-512, 2026-12-07 (the ETA)
    quick: bool  # holds at CPU scale in minutes: part of --quick (and of CI)
    check: Callable[[list[str]], Verdict]  # run directories (one per seed) -> verdict
    figure: str  # the run's figure that shows it (path inside a run directory)


def across_seeds(metrics: dict) -> dict[str, dict]:
    """Mean and spread over seeds of every metric a check logged per seed (``seed<s>/<name>``):
    {name: {"mean", "min", "max", "seeds"}} for names measured in two seeds or more."""
    by_name: dict[str, list[float]] = {}
    for key, value in metrics.items():
        match = re.fullmatch(r"seed\d+/(.+)", key)
        if match:
            by_name.setdefault(match.group(1), []).append(float(value))
    return {
        name: {"mean": float(np.mean(v)), "min": float(np.min(v)), "max": float(np.max(v)), "seeds": len(v)}
        for name, v in sorted(by_name.items())
        if len(v) >= 2
    }
