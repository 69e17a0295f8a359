"""The TFRecord dataset contract: manifest, verification, and resume after a kill."""

import os

import numpy as np
import pytest
from conftest import read_json

from robust_keras.data import adversarial
from robust_keras.errors import DataError

N, SHAPE = 23, (4, 4, 1)
IMAGES = np.random.default_rng(0).random((N, *SHAPE), dtype=np.float32)
LABELS = np.arange(N) % 10
TARGETS = (LABELS + 1) % 10
SPEC = {"source_model": {"path": "m", "sha256": "abc"}, "attack": {"eps": 0.5}, "source_split": "toy/train"}


class Interrupt(Exception):
    pass


def fake_attack(fail_after=None):
    """A deterministic stand-in for PGD whose output depends on the seed it gets."""
    calls = []

    def attack(x, t, seed):
        calls.append(seed)
        if fail_after is not None and len(calls) > fail_after:
            raise Interrupt()
        noise = np.random.default_rng(list(seed)).uniform(-0.05, 0.05, x.shape).astype(np.float32)
        return np.clip(x + noise, 0, 1), t % 2 == 0

    return attack


def generate(directory, attack, spec=SPEC, part=(0, 1)):
    return adversarial.generate(
        str(directory),
        images=IMAGES,
        orig_labels=LABELS,
        targets=TARGETS,
        attack_fn=attack,
        spec=spec,
        shard_size=5,
        batch_size=2,
        seed=7,
        log=lambda _: None,
        part=part,
    )


def test_roundtrip_and_manifest(tmp_path):
    manifest = generate(tmp_path, fake_attack())
    assert manifest["complete"] and len(manifest["shards"]) == 5
    assert [s["num_records"] for s in manifest["shards"]] == [5, 5, 5, 5, 3]
    data = adversarial.load(str(tmp_path))
    np.testing.assert_array_equal(data.indices, np.arange(N))
    np.testing.assert_array_equal(data.labels, TARGETS)
    np.testing.assert_array_equal(data.orig_labels, LABELS)
    np.testing.assert_array_equal(data.target_hit, TARGETS % 2 == 0)
    assert data.images.shape == (N, *SHAPE) and np.abs(data.images - IMAGES).max() <= 0.05 + 1e-6
    on_disk = read_json(tmp_path / "manifest.json")
    assert on_disk["spec"] == SPEC and on_disk["seed"] == 7
    assert manifest["target_hit_rate"] == pytest.approx(np.mean(TARGETS % 2 == 0))


def test_killed_generation_resumes_to_identical_dataset(tmp_path):
    generate(tmp_path / "whole", fake_attack())
    with pytest.raises(Interrupt):
        generate(tmp_path / "killed", fake_attack(fail_after=7))  # dies inside shard 3 (3 batches/shard)
    partial = read_json(tmp_path / "killed" / "manifest.json")
    assert not partial["complete"] and len(partial["shards"]) == 2
    with pytest.raises(DataError, match="incomplete"):
        adversarial.load(str(tmp_path / "killed"))
    resumed_calls = fake_attack()
    generate(tmp_path / "killed", resumed_calls)
    whole = read_json(tmp_path / "whole" / "manifest.json")
    again = read_json(tmp_path / "killed" / "manifest.json")
    assert [s["sha256"] for s in whole["shards"]] == [s["sha256"] for s in again["shards"]]
    # a complete dataset is not regenerated
    spy = fake_attack(fail_after=0)
    generate(tmp_path / "killed", spy)


def test_truncated_shard_is_refused(tmp_path):
    generate(tmp_path, fake_attack())
    shard = tmp_path / adversarial.shard_name(2, 5)
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(DataError, match="corrupt") as err:
        adversarial.load(str(tmp_path))
    assert str(shard) in str(err.value)


def test_missing_shard_is_refused_and_regenerated(tmp_path):
    generate(tmp_path, fake_attack())
    expected = adversarial.sha256_file(tmp_path / adversarial.shard_name(1, 5))
    os.remove(tmp_path / adversarial.shard_name(1, 5))
    with pytest.raises(DataError, match="missing"):
        adversarial.load(str(tmp_path))
    generate(tmp_path, fake_attack())
    assert adversarial.sha256_file(tmp_path / adversarial.shard_name(1, 5)) == expected
    assert len(adversarial.load(str(tmp_path)).labels) == N


def test_other_settings_in_same_directory_are_refused(tmp_path):
    generate(tmp_path, fake_attack())
    with pytest.raises(DataError, match="other settings"):
        generate(tmp_path, fake_attack(), spec={**SPEC, "attack": {"eps": 1.0}})


_WORKER = """
import sys
sys.path[:0] = [{tests!r}, {conftest_dir!r}]
from test_adversarial_dataset import fake_attack, generate
generate({directory!r}, fake_attack(), part=({worker}, {workers}))
"""


def _workers(directory, parts):
    """Runs generation processes side by side, one per (worker, workers) in ``parts``."""
    import subprocess
    import sys

    from conftest import ROOT

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    tests = os.path.dirname(os.path.abspath(__file__))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER.format(
                    tests=tests, conftest_dir=os.path.dirname(tests), directory=str(directory), worker=w, workers=n
                ),
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
    for name in [adversarial.MANIFEST] + [s["name"] for s in manifest["shards"]]:
        assert (split / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    assert not list(split.glob("*.tmp"))
    (split / manifest["shards"][3]["name"]).write_bytes(b"torn")
    with pytest.raises(DataError, match="re-run worker 1 of 2"):
        adversarial.merge(str(split), 2, log=lambda _: None)
