"""Transfer split (Sec. 3, Claim 1) end to end on the MNIST sample: both subsets honour the
adversarial-dataset contract and the paper's effect shows."""

import numpy as np
from conftest import read_json, run_experiment

from robust_keras.data import adversarial_reader


def test_transfer_split_reproduces_claim_1(tmp_path):
    run_experiment("transfer_split_mnist_tiny.flags", tmp_path, "--epochs=5", "--max_train_examples=1500")
    summary = read_json(tmp_path / "summary.json")
    # Claim 1: examples that transfer carry the non-robust features (the model trained on them
    # generalises to D); the others carry only robust ones (generalises to D_shift).
    assert summary["transfers/clean"] > summary["no_transfer/clean"] + 0.15
    assert summary["no_transfer/shift"] > summary["transfers/shift"] + 0.15
    assert summary["no_transfer/clean"] < 0.2 and summary["no_transfer/shift"] > 0.4
    parent = adversarial_reader.load(str(tmp_path / "d_det"))
    parts = {s: adversarial_reader.load(str(tmp_path / "transfer_split" / s)) for s in ("transfers", "no_transfer")}
    assert len(parts["transfers"].labels) + len(parts["no_transfer"].labels) == len(parent.labels)
    assert len(parts["transfers"].labels) == round(summary["split/transfer_rate"] * len(parent.labels))
    both = np.sort(np.concatenate([p.indices for p in parts.values()]))
    np.testing.assert_array_equal(both, np.sort(parent.indices))  # a partition, nothing lost or doubled
    by_index = {i: k for k, i in enumerate(parent.indices)}
    for part in parts.values():
        rows = np.array([by_index[i] for i in part.indices])
        np.testing.assert_array_equal(part.images, parent.images[rows])
        np.testing.assert_array_equal(part.labels, parent.labels[rows])
        split = part.manifest["spec"]["split"]
        assert split["reference_model"]["path"].endswith("models/n_prime") and "N'" in split["rule"]
    assert (tmp_path / "plots" / "transfer_split.png").stat().st_size > 20_000
