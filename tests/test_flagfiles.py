"""Every shipped flagfile starts with its header comment and parses into a known experiment."""

import glob
import os

import pytest
from conftest import parse_project_flags

from robust_keras.experiments import EXPERIMENTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGFILES = sorted(glob.glob(os.path.join(ROOT, "flags", "*.flags")))


@pytest.mark.parametrize("path", FLAGFILES, ids=os.path.basename)
def test_flagfile_parses(path):
    with open(path) as f:
        assert f.readline().startswith("# .venv/bin/python -m robust_keras.main --flagfile=flags/")
    assert parse_project_flags(f"--flagfile={path}")["experiment"] in EXPERIMENTS
