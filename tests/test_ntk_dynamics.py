"""Kernel-dynamics metrics against hand-computed values, and the callback inside the training loop."""

import keras
import numpy as np
import pytest

from robust_keras.data import pipeline
from robust_keras.ntk import dynamics
from robust_keras.training import loop, optim


def test_metrics_closed_forms():
    k = np.diag([4.0, 3.0, 1.0])
    assert dynamics.kernel_distance(k, 5 * k) == pytest.approx(0.0, abs=1e-12)  # scale does not count
    e1, e2 = np.diag([1.0, 0, 0]), np.diag([0, 1.0, 0])
    assert dynamics.kernel_distance(e1, e2) == pytest.approx(1.0)
    radius, angle = dynamics.polar(e1, e2)
    assert radius == pytest.approx(np.sqrt(2)) and angle == pytest.approx(np.pi / 2)
    assert dynamics.concentration(k, 1) == pytest.approx(16 / 26)
    np.testing.assert_allclose(dynamics.top_space(k, 2), np.diag([4.0, 3.0, 0.0]), atol=1e-12)


def test_callback_records_kernels_during_training():
    rng = np.random.default_rng(0)
    x = rng.random((64, 2, 2, 1)).astype(np.float32)
    y = (x[:, 0, 0, 0] > 0.5).astype(np.int64)
    inputs = keras.Input((2, 2, 1))
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    logged = []
    callback = dynamics.KernelDynamics(model, x[:12], every=2, top=3, ks=(2,), log=lambda m, s: logged.append((s, m)))
    callback.epoch_zero()
    trainer = loop.Trainer(model, optim.make_optimizer("sgd", 0.5))
    data = lambda e: pipeline.train_dataset(x, y, batch_size=16, seed=0, epoch=e)  # noqa: E731
    loop.fit(trainer, epochs=4, train_data=data, on_epoch_end=callback, log=lambda _: None)
    assert callback.epochs == [0, 2, 4] and [s for s, _ in logged] == [0, 2, 4]
    assert logged[0][1]["ntk/distance_to_init"] == pytest.approx(0.0, abs=1e-9)
    assert logged[-1][1]["ntk/radius"] > 0 and 0 < logged[-1][1]["ntk/concentration_top2"] <= 1
    d = callback.distance_matrix()
    assert d.shape == (3, 3) and np.allclose(np.diag(d), 0, atol=1e-9) and np.allclose(d, d.T)


def test_tiny_kernel_dynamics_experiment(tmp_path):
    from conftest import read_jsonl, run_experiment

    run_experiment("kernel_dynamics_mnist_tiny.flags", tmp_path, "--epochs=3")
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    for mode in ("standard", "adversarial"):
        dist = {r["step"]: r["value"] for r in rows if r["run"] == mode and r["name"] == "ntk/distance_to_init"}
        assert sorted(dist) == [0, 1, 2, 3] and dist[0] == pytest.approx(0.0, abs=1e-9)
        assert dist[3] > 1e-3  # at finite width the kernel moves during training
        saved = np.load(tmp_path / mode / "kernels.npz")
        assert saved["kernels"].shape == (4, 16, 16) and list(saved["epochs"]) == [0, 1, 2, 3]
        assert (tmp_path / "plots" / f"{mode}_kernel_distance.png").exists()
    assert (tmp_path / "plots" / "kernel_dynamics.png").exists() and (
        tmp_path / "plots" / "kernel_entries.png"
    ).exists()
