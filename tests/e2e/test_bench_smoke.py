"""Every bench/ script runs end to end at a tiny size (seconds, no peer packages; in this process, so
TensorFlow is imported once), so a changed signature in the library breaks the suite instead of the
next measurement. Not a timing test: it
checks that each prints its table of figures. The scripts that need the peers' virtualenv (torch)
are left to `bench/requirements-attack-peers.txt`."""

import os
import runpy
import sys

import pytest
from conftest import ROOT

TINY = {
    "pgd_throughput.py": ["--models", "cnn_mnist", "--batch", "8", "--steps", "2", "--repeats", "1"],
    "apgd_throughput.py": ["--models", "cnn_mnist", "--batch", "8", "--steps", "2", "--repeats", "1"],
    "fab_throughput.py": ["--models", "cnn_mnist", "--batch", "8", "--steps", "2", "--repeats", "1"],
    "square_throughput.py": ["--models", "cnn_mnist", "--batch", "8", "--queries", "3", "--repeats", "1"],
    "inversion_throughput.py": ["--models", "cnn_mnist", "--batch", "8", "--steps", "2", "--repeats", "1"],
    "d_det_generation.py": ["--model", "cnn_mnist", "--images", "16", "--batch", "8", "--steps", "2", "--repeats", "1"],
    "mixed_precision.py": ["--models", "cnn_mnist", "--batch", "8", "--steps", "2", "--repeats", "1"],
    "input_stream.py": ["--examples", "64", "--batch", "16", "--repeats", "1"],
    "full_batch_gd.py": ["--k", "4", "--d", "64", "--n", "40", "--m", "2", "--steps", "5", "--repeats", "1"],
    "ntk.py": ["--sizes", "8", "--jacobian_max", "8", "--models", "mlp", "--kinds", "traced", "--no_fast_path"],
    "ntk_analytic.py": ["--sizes", "8", "--archs", "fc3", "--repeats", "1", "--cases", "train", "--peer_blocks="],
    "ntk_peers.py": ["--help"],  # its peers run in their own virtualenvs; the driver itself must start
}
# these import torch at the top
NEEDS_PEERS = {"peers.py", "torch_twins.py", "square_agreement.py", "autoattack_agreement.py", "autoattack_peers.py"}
HELPERS = {"bounds.py"}  # the baselines the scripts above import (no output of its own)


def test_every_bench_script_is_covered():
    scripts = {f for f in os.listdir(os.path.join(ROOT, "bench")) if f.endswith(".py")}
    assert scripts == set(TINY) | NEEDS_PEERS | HELPERS


@pytest.mark.parametrize("script", sorted(TINY))
def test_bench_script_runs_at_a_tiny_size(script, monkeypatch, capsys):
    """Runs the script as ``python bench/<script> ARGS`` would, but in this process (TensorFlow is
    imported once for all of them); the scripts that time children start them as subprocesses."""
    monkeypatch.setattr(sys, "argv", [os.path.join(ROOT, "bench", script), *TINY[script]])
    monkeypatch.syspath_prepend(os.path.join(ROOT, "bench"))
    monkeypatch.chdir(ROOT)
    try:
        runpy.run_path(os.path.join(ROOT, "bench", script), run_name="__main__")
    except SystemExit as stop:  # argparse's --help exits 0
        assert stop.code in (0, None), stop.code
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines and any(ch.isdigit() for ch in lines[-1]) or "usage:" in out, out[-2000:]
