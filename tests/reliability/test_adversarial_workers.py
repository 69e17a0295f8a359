"""Adversarial-dataset generation split over processes: disjoint parts, a racing duplicate worker,
and merge() refusing missing or torn parts."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT
from fake_adversarial import fake_attack, generate

from robust_keras.data import adversarial, adversarial_reader
from robust_keras.errors import DataError

_WORKER = """
import sys
sys.path[:0] = [{tests!r}]
from fake_adversarial import fake_attack, generate
generate({directory!r}, fake_attack(), part=({worker}, {workers}))
"""


def _workers(directory, parts):
    """Runs generation processes side by side, one per (worker, workers) in ``parts``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER.format(tests=tests, directory=str(directory), worker=w, workers=n),
            ],
            env=env,
            stderr=subprocess.PIPE,
        )
        for w, n in parts
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]


def test_split_generation_by_two_processes_merges_to_the_one_process_dataset(tmp_path):
    """Two processes own disjoint shards (i mod 2), a third races the first on the same shards;
    merge() checks every part and shard and writes the manifest: all files byte-identical to a
    one-process run's."""
    generate(tmp_path / "one", fake_attack())
    split = tmp_path / "split"
    _workers(split, [(0, 2), (1, 2), (0, 2)])
    with pytest.raises(DataError, match="part-00000-of-00003.json does not exist -- run worker 0 of 3"):
        adversarial.merge(str(split), 3, log=lambda _: None)  # parts of another split never ran
    manifest = adversarial.merge(str(split), 2, log=lambda _: None)
    assert manifest["complete"] and len(manifest["shards"]) == 5
    for name in [adversarial_reader.MANIFEST] + [s["name"] for s in manifest["shards"]]:
        assert (split / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    assert not list(split.glob("*.tmp"))
    (split / manifest["shards"][3]["name"]).write_bytes(b"torn")
    with pytest.raises(DataError, match="re-run worker 1 of 2"):
        adversarial.merge(str(split), 2, log=lambda _: None)
