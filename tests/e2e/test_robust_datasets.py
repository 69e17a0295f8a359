"""robust_datasets end to end on the MNIST sample (flags/robust_datasets_mnist_tiny.flags): D_R and
D_NR honour the adversarial-dataset contract, and the model trained on D_R is the more robust one."""

import numpy as np
import pytest
from conftest import read_json, read_jsonl, run_experiment

from robust_keras.attacks.inversion import start_indices
from robust_keras.data import adversarial_reader, sources


def _tail(run_dir, child: str, metric: str, epochs: int = 3) -> float:
    """Mean of ``metric`` of child run ``child`` over its last ``epochs`` epochs."""
    rows = read_jsonl(run_dir / "metrics.jsonl")
    by_step = {r["step"]: r["value"] for r in rows if r.get("run") == child and r["name"] == metric}
    return float(np.mean([by_step[s] for s in sorted(by_step)[-epochs:]]))


def test_d_r_trained_model_is_more_robust_than_d_nr_trained(tmp_path):
    run_experiment("robust_datasets_mnist_tiny.flags", tmp_path, "--rd_eval_l2_sweep=1,2")
    summary = read_json(tmp_path / "summary.json")
    # the models the datasets are built through: adversarial training bought l2 robustness
    assert summary["robust_model/l2_robust_accuracy"] > summary["standard_model/l2_robust_accuracy"] + 0.1
    # Ilyas et al. Sec. 3.1 at this scale: what holds across seeds and data orders is only the l2
    # ordering D_R > D_NR (last 3 epochs: seeds 0 / 1 in memory 0.21 vs 0.14 / 0.21 vs 0.15, the
    # streamed order 0.19 vs 0.17); the l-inf gap flips with the data order (docs/methods.md §D.2)
    # and the D_R model is not above the standard one (docs/reproduction.md), so neither is asserted.
    metric = "test/l2_robust_accuracy"
    r, nr = _tail(tmp_path, "train_on_d_r", metric), _tail(tmp_path, "train_on_d_nr", metric)
    assert r > nr, (r, nr)
    for name in ("d_r", "d_nr"):
        assert _tail(tmp_path, f"train_on_{name}", "test/accuracy") > 0.7

    train, _ = sources.load_mnist_sample()
    n = 600
    starts = start_indices(n, 0)  # not the run's seed, only the rule: i never starts from itself
    assert np.all(starts != np.arange(n))
    for name, role in (("d_r", "robust"), ("d_nr", "standard")):
        data = adversarial_reader.load(str(tmp_path / name))  # verifies every shard against the manifest
        spec = data.manifest["spec"]
        assert spec["source_model"]["role"] == role and spec["source_model"]["path"].endswith(f"models/{role}")
        method = spec["attack"]
        assert method["method"] == "representation_inversion" and method["steps"] == 100
        assert method["step_size"] == 0.1 and "penultimate" in method["representation"]
        assert "other_image" in method["start_rule"]
        np.testing.assert_array_equal(data.indices, np.arange(n))
        np.testing.assert_array_equal(data.labels, train.labels[:n])  # the label of x is kept
        assert data.images.min() >= 0.0 and data.images.max() <= 1.0
        clean = train.images[:n].astype(np.float32) / 255.0
        assert not np.allclose(data.images, clean)  # synthesised, not copied
        assert data.target_hit.mean() > 0.7  # the building model labels x_r as y
    # each inversion came closer to x's representation than its start, without matching it exactly
    for name in ("d_r", "d_nr"):
        assert 0.0 < summary[f"{name}/inversion_residual_median"] < 1.0
    # the sweep after training: every model at every radius, and at eps 2.0 the source models' numbers
    # equal what the per-epoch evaluator measured with the same attack (--rd_eval_l2_eps=2.0)
    sweep = read_json(tmp_path / "sweep.json")
    assert sweep["l2_eps"] == [1.0, 2.0] and sweep["examples"] == 200
    names = {"robust model (source)", "standard model (source)", "trained on D_R", "trained on D_NR"}
    assert set(sweep["accuracy"]) == names
    for role in ("robust", "standard"):
        assert sweep["accuracy"][f"{role} model (source)"][1] == pytest.approx(
            summary[f"{role}_model/l2_robust_accuracy"], abs=0.011
        )  # (within 2 of 200 examples)
    assert sweep["accuracy"]["trained on D_R"][1] == pytest.approx(summary["d_r/test/l2_robust_accuracy"], abs=0.011)
    for png in ("robust_datasets_examples.png", "robust_datasets_curves.png", "robust_accuracy_vs_eps.png"):
        assert (tmp_path / "plots" / png).stat().st_size > 20_000
