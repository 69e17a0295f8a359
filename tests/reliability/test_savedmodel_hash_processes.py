"""A SavedModel's hash is what it computes, not the process that exported it: two processes with
different string hashing export the same weights and must hash alike."""

import os
import subprocess
import sys

from conftest import ROOT

_EXPORT_AND_HASH = """
import sys
import keras
from robust_keras.export import export_model
from robust_keras.savedmodel_hash import savedmodel_hash
from robust_keras.models import build_model
keras.utils.set_random_seed(0)
model = build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.5], std=[0.25], seed=0)
print(savedmodel_hash(export_model(model, sys.argv[1], {})))
"""


def test_identical_weights_exported_by_two_processes_hash_alike(tmp_path):
    """Keras lists a model's variables in an order that follows Python's string hashing, so the
    checkpoint keys of the same weights differ between processes; the hash must not."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _EXPORT_AND_HASH, str(tmp_path / f"m{seed}")],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": str(seed), "PYTHONPATH": ROOT},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for seed in (1, 2)
    ]
    hashes = [p.communicate(timeout=300)[0].strip().splitlines()[-1] for p in procs]
    assert hashes[0] == hashes[1] and len(hashes[0]) == 64
