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


def test_full_kernel_traces_to_the_traced_one_and_inputs_follow_the_epoch():
    """--ntk_kernel_shape=full holds the traced kernel on its output diagonal; the "trained" batch
    source computes each epoch's kernel on the inputs of that epoch (adversarial ones in
    adversarial training), not on the fixed clean batch."""
    rng = np.random.default_rng(1)
    x = rng.random((5, 2, 2, 1)).astype(np.float32)
    inputs = keras.Input((2, 2, 1))
    model = keras.Model(
        inputs, keras.layers.Dense(3)(keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(inputs)))
    )
    traced = dynamics.KernelDynamics(model, x, top=2, ks=(1,))
    full = dynamics.KernelDynamics(model, x, top=2, ks=(1,), full=True)
    traced.epoch_zero(), full.epoch_zero()
    blocks = full.kernels[0].reshape(5, 3, 5, 3)
    assert full.kernels[0].shape == (15, 15)
    np.testing.assert_allclose(np.einsum("iojo->ij", blocks), traced.kernels[0], rtol=1e-6)  # float32 model
    seen = []
    shifted = dynamics.KernelDynamics(model, x, top=2, ks=(1,), inputs=lambda e, b: seen.append(e) or b + 0.1 * e)
    shifted.epoch_zero(), shifted(3, {})
    assert seen == [0, 3]
    np.testing.assert_allclose(shifted.kernels[0], traced.kernels[0], rtol=1e-12)
    other = dynamics.KernelDynamics(model, x + 0.3, top=2, ks=(1,))
    other.epoch_zero()
    np.testing.assert_allclose(shifted.kernels[1], other.kernels[0], rtol=1e-10)


def test_resumed_callback_keeps_the_kernels_of_earlier_epochs(tmp_path):
    """A fresh callback on the same state_dir (a resumed run) continues the history."""
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(8, activation="relu")(inputs)))
    x = np.random.default_rng(1).random((6, 3)).astype(np.float32)
    first = dynamics.KernelDynamics(model, x, top=2, ks=(1,), state_dir=str(tmp_path / "k"))
    first.epoch_zero()
    first(1, {})
    model.layers[-1].kernel.assign(2 * model.layers[-1].kernel)  # "training" moves the kernel
    second = dynamics.KernelDynamics(model, x, top=2, ks=(1,), state_dir=str(tmp_path / "k"))
    assert second.epochs == [0, 1] and second.history == first.history
    assert second.epoch_zero() == {}  # K_0 is not recomputed from the moved model
    second(2, {})
    assert second.epochs == [0, 1, 2] and second.distance_matrix().shape == (3, 3)
    np.testing.assert_array_equal(second.kernels[0], first.kernels[0])
    assert not list((tmp_path / "k").glob("*.tmp"))
