"""robust_datasets end to end on the MNIST sample (flags/robust_datasets_mnist_tiny.flags): D_R and
D_NR honour the adversarial-dataset contract, and the model trained on D_R is the more robust one."""

import numpy as np
from conftest import read_json, read_jsonl, run_experiment

from robust_keras.attacks.inversion import start_indices
from robust_keras.data import adversarial, sources


def _tail(run_dir, child: str, metric: str, epochs: int = 3) -> float:
    """Mean of ``metric`` of child run ``child`` over its last ``epochs`` epochs."""
    rows = read_jsonl(run_dir / "metrics.jsonl")
    by_step = {r["step"]: r["value"] for r in rows if r.get("run") == child and r["name"] == metric}
    return float(np.mean([by_step[s] for s in sorted(by_step)[-epochs:]]))


def test_d_r_trained_model_is_more_robust_than_d_nr_trained(tmp_path):
    run_experiment("robust_datasets_mnist_tiny.flags", tmp_path)
    summary = read_json(tmp_path / "summary.json")
    # the models the datasets are built through: adversarial training bought l2 robustness
    assert summary["robust_model/l2_robust_accuracy"] > summary["standard_model/l2_robust_accuracy"] + 0.1
    # Ilyas et al. Sec. 3.1: standard training on D_R gives robustness, on D_NR much less; both
    # generalise to the clean test set. Averaged over the last 3 epochs against epoch noise. At
    # l-inf 0.1 even the standard MNIST model is fairly robust (0.6), so that gap is smaller.
    for norm in ("l2", "linf"):
        metric = f"test/{norm}_robust_accuracy"
        r, nr = _tail(tmp_path, "train_on_d_r", metric), _tail(tmp_path, "train_on_d_nr", metric)
        assert r > nr + (0.03 if norm == "l2" else 0.01), (norm, r, nr)
    for name in ("d_r", "d_nr"):
        assert _tail(tmp_path, f"train_on_{name}", "test/accuracy") > 0.7

    train, _ = sources.load_mnist_sample()
    n = 600
    starts = start_indices(n, 0)  # not the run's seed, only the rule: i never starts from itself
    assert np.all(starts != np.arange(n))
    for name, role in (("d_r", "robust"), ("d_nr", "standard")):
        data = adversarial.load(str(tmp_path / name))  # verifies every shard against the manifest
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
    for png in ("robust_datasets_examples.png", "robust_datasets_curves.png"):
        assert (tmp_path / "plots" / png).stat().st_size > 20_000
