"""Every shipped flagfile starts with its header comment and parses into a known experiment."""

import glob
import os

import pytest
from conftest import parse_project_flags

from robust_keras.experiments import EXPERIMENTS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLAGFILES = sorted(glob.glob(os.path.join(ROOT, "flags", "*.flags")))


@pytest.mark.parametrize("path", FLAGFILES, ids=os.path.basename)
def test_flagfile_parses(path):
    with open(path) as f:
        assert f.readline().startswith("# .venv/bin/python -m robust_keras.main --flagfile=flags/")
    assert parse_project_flags(f"--flagfile={path}")["experiment"] in EXPERIMENTS


def test_every_experiment_runs_end_to_end_in_the_suite_with_its_figures_checked():
    """Each experiment has a tiny run in some test (by flagfile or --experiment=); run_experiment and
    the run_main-based end-to-end tests check every figure it writes (conftest.check_figures)."""
    from pathlib import Path

    from robust_keras.experiments import EXPERIMENTS

    tests = "".join(p.read_text() for p in Path(ROOT, "tests").rglob("test_*.py"))
    experiment_of = {}
    for path in FLAGFILES:
        with open(path) as f:
            for line in f:
                if line.startswith("--experiment="):
                    experiment_of[os.path.basename(path)] = line.strip().split("=", 1)[1]
    covered = {experiment_of[name] for name in experiment_of if name in tests}
    covered |= {name for name in EXPERIMENTS if f"--experiment={name}" in tests}
    assert sorted(set(EXPERIMENTS) - covered) == []
