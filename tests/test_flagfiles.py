"""Every shipped flagfile starts with its header comment and parses into a known experiment."""

import glob
import os

import pytest
from absl import flags

from robust_keras.experiments import EXPERIMENTS
from robust_keras.main import project_flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGFILES = sorted(glob.glob(os.path.join(ROOT, "flags", "*.flags")))


@pytest.mark.parametrize("path", FLAGFILES, ids=os.path.basename)
def test_flagfile_parses(path):
    with open(path) as f:
        assert f.readline().startswith("# python -m robust_keras.main --flagfile=flags/")
    values = flags.FlagValues()
    for flag in project_flags():
        values[flag.name] = flag
    try:
        values(["prog", f"--flagfile={path}"])
        assert values.experiment in EXPERIMENTS
    finally:
        values.unparse_flags()
