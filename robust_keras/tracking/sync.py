"""``--experiment=sync_mlflow``: replays a whole run directory to a tracking store."""

from __future__ import annotations

import glob
import os
from typing import NamedTuple

from robust_keras.tracking.record import LEDGER, read_jsonl
from robust_keras.tracking.runs import open_run


class SyncReport(NamedTuple):
    in_step: int  # runs MLflow now mirrors
    total: int  # runs found in the run directory (main, children, grid cells)
    duplicates: list  # (run label, metric, step, times) that MLflow holds more than once


def sync_run_dir(run_dir: str, tracking_uri: str) -> SyncReport:
    """Replays a whole run directory (main run, its children, grid cells) to ``tracking_uri``,
    each run ending in the last status it recorded, and reports metric values MLflow holds twice."""
    main = open_run(run_dir, tracking_uri, "", "", {}, resume=False)
    runs = [main]
    names = {e["name"] for e in read_jsonl(os.path.join(run_dir, LEDGER)) if e.get("kind") == "child"}
    runs += [main.child(name, resume=False) for name in sorted(names)]
    for cell_dir in sorted(glob.glob(os.path.join(run_dir, "cells", "*", ""))):
        runs.append(main.child(os.path.basename(os.path.dirname(cell_dir)), run_dir=cell_dir, resume=False))
    in_step, duplicates = 0, []
    for run in runs:
        if run.sync() and run.end_as_recorded():
            in_step += 1
        duplicates += [(run.label, *d) for d in run.duplicates]
    return SyncReport(in_step, len(runs), duplicates)
