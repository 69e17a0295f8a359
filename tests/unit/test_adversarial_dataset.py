"""The TFRecord dataset contract: manifest, verification, and resume after a kill."""

import os

import numpy as np
import pytest
from conftest import read_json
from fake_adversarial import IMAGES, LABELS, SHAPE, SPEC, TARGETS, Interrupt, N, fake_attack, generate

from robust_keras.data import adversarial_reader
from robust_keras.errors import DataError


def test_roundtrip_and_manifest(tmp_path):
    manifest = generate(tmp_path, fake_attack())
    assert manifest["complete"] and len(manifest["shards"]) == 5
    assert [s["num_records"] for s in manifest["shards"]] == [5, 5, 5, 5, 3]
    data = adversarial_reader.load(str(tmp_path))
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
        adversarial_reader.load(str(tmp_path / "killed"))
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
    shard = tmp_path / adversarial_reader.shard_name(2, 5)
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(DataError, match="corrupt") as err:
        adversarial_reader.load(str(tmp_path))
    assert str(shard) in str(err.value)


def test_missing_shard_is_refused_and_regenerated(tmp_path):
    generate(tmp_path, fake_attack())
    expected = adversarial_reader.sha256_file(tmp_path / adversarial_reader.shard_name(1, 5))
    os.remove(tmp_path / adversarial_reader.shard_name(1, 5))
    with pytest.raises(DataError, match="missing"):
        adversarial_reader.load(str(tmp_path))
    generate(tmp_path, fake_attack())
    assert adversarial_reader.sha256_file(tmp_path / adversarial_reader.shard_name(1, 5)) == expected
    assert len(adversarial_reader.load(str(tmp_path)).labels) == N


def test_other_settings_in_same_directory_are_refused(tmp_path):
    generate(tmp_path, fake_attack())
    with pytest.raises(DataError, match="other settings"):
        generate(tmp_path, fake_attack(), spec={**SPEC, "attack": {"eps": 1.0}})
