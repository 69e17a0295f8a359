"""kernel_dynamics end to end on its tiny flagfile (NTK paper Sec. 5)."""

import numpy as np
import pytest


def _first_inputs(split, n):
    from robust_keras.data import sources

    train, test = sources.load_dataset("mnist_sample", test_per_class=100)
    return ({"train": train, "test": test}[split].images[:n] / 255.0).astype(np.float32)


def test_tiny_kernel_dynamics_experiment(tmp_path):
    from conftest import read_jsonl, run_experiment

    # a fixed clean batch (the trained one's adversarial inputs change every epoch, even for a frozen kernel)
    run_experiment(
        "kernel_dynamics_mnist_tiny.flags",
        tmp_path,
        "--epochs=4",
        "--ntk_linearize_epoch=2",
        "--ntk_batch_source=train",
    )
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    for mode in ("standard", "adversarial"):
        metric = lambda name, mode=mode: {r["step"]: r["value"] for r in rows if (r["run"], r["name"]) == (mode, name)}  # noqa: E731
        dist = metric("ntk/distance_to_init")
        assert sorted(dist) == [0, 1, 2, 3, 4] and dist[0] == pytest.approx(0.0, abs=1e-9)
        assert dist[2] > 1e-3  # at finite width the kernel moves during training
        saved = np.load(tmp_path / mode / "kernels.npz")
        assert saved["kernels"].shape == (5, 16, 16) and list(saved["epochs"]) == [0, 1, 2, 3, 4]
        # linearized after epoch 2 (App. E.1): the kernel is frozen at K_2 while training goes on
        np.testing.assert_array_equal(saved["kernels"][4], saved["kernels"][2])
        if mode == "standard":  # the tracked batch is the paper's: training inputs, not test ones
            np.testing.assert_array_equal(saved["inputs"], _first_inputs("train", 16))
        clean, robust = metric("test/accuracy"), metric("test/robust_accuracy")
        assert sorted(robust) == [1, 2, 3, 4] and all(robust[e] <= clean[e] for e in robust)
        assert metric("train/accuracy")[4] > metric("train/accuracy")[2]  # the linearized model still learns
        assert (tmp_path / "plots" / f"{mode}_kernel_distance.png").exists()
    for png in ("kernel_dynamics.png", "kernel_entries.png", "accuracy.png"):
        assert (tmp_path / "plots" / png).exists()
