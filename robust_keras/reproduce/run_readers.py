"""Reading what finished runs wrote: summary files and metrics.jsonl."""

from __future__ import annotations

import json
import os

import numpy as np

from robust_keras.tracking.record import read_flags


def json_file(path: str):
    with open(path) as f:
        return json.load(f)


def metrics(run_dir: str, run: str | None = "main") -> dict[str, dict[int, float]]:
    """{metric: {step: value}} of one run (``run``: main or a child's label; None: every row -- a
    directory only one run writes, such as a grid cell's) from metrics.jsonl."""
    out: dict[str, dict[int, float]] = {}
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            if run is None or row["run"] == run:
                out.setdefault(row["name"], {})[row["step"]] = row["value"]
    return out


def seed(run_dir: str) -> int | None:
    """The ``--seed`` a run was started with (its ``flags.flags``), None if it records none."""
    if not os.path.exists(os.path.join(run_dir, "flags.flags")):
        return None
    value = read_flags(run_dir).get("seed")
    return int(value) if value is not None else None


def seeded(runs: list[str]) -> list[tuple[int, str]]:
    """(seed, run directory) of each run, by the seed it was started with, so that a verdict
    names the real seed whatever the order of the runs (position if a run records none)."""
    return [(s if (s := seed(run_dir)) is not None else i, run_dir) for i, run_dir in enumerate(runs)]


def tail(run_dir: str, run: str, name: str, epochs: int = 3) -> float:
    """Mean of a child run's metric over its last ``epochs`` epochs (against epoch-to-epoch noise)."""
    values = metrics(run_dir, run)[name]
    return float(np.mean([values[s] for s in sorted(values)[-epochs:]]))
