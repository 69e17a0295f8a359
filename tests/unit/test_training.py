"""The training loop: learning, weight decay, schedules, checkpoint resume (MirroredStrategy on two
logical CPUs, which needs a fresh process: tests/e2e/test_logical_devices.py)."""

import dataclasses

import numpy as np
import pytest

from robust_keras.data import pipeline
from robust_keras.errors import TrainingError
from robust_keras.models import build_model
from robust_keras.training import loop, optim
from robust_keras.training.evaluators import ClassificationEvaluator


def _toy(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 2, 2, 1)).astype(np.float32) * 0.1 + 0.5
    x[:, 0, 0, 0] += np.where(y == 1, 0.3, -0.3)
    return np.clip(x, 0, 1), y.astype(np.int64)


def _trainer(lr=0.1, wd=0.0, momentum=0.9, seed=0):
    model = build_model("two_layer", (2, 2, 1), 2, mean=[0.5], std=[0.2], width=32, seed=seed)
    return loop.Trainer(model, optim.make_optimizer("sgd", lr, momentum=momentum), weight_decay=wd)


def _data(x, y):
    return lambda epoch: pipeline.train_dataset(x, y, batch_size=32, seed=0, epoch=epoch)


def test_fit_learns_and_reports_metrics():
    x, y = _toy()
    trainer = _trainer()
    logged = []
    hist = loop.fit(
        trainer,
        epochs=5,
        train_data=_data(x, y),
        evaluators=[ClassificationEvaluator("val", x, y)],
        on_epoch_end=lambda e, m: logged.append(e),
        log=lambda _: None,
    )
    assert logged == [1, 2, 3, 4, 5]
    assert hist[-1]["train/accuracy"] > 0.9 and hist[-1]["val/accuracy"] > 0.9
    assert hist[-1]["train/loss"] < hist[0]["train/loss"]


def test_eps_ramp_sets_each_epochs_training_budget_and_logs_it():
    from robust_keras.attacks import PGD
    from robust_keras.settings import AttackSettings
    from robust_keras.workflows.recipes import _ramp

    settings = AttackSettings("pgd", "linf", 0.3, 0.1, 3, 1, False, False, eps_ramp_epochs=3)
    assert settings.budget_at(0) == pytest.approx((0.1, 0.1 / 3)) and settings.budget_at(7) == (0.3, 0.1)
    assert dataclasses.replace(settings, eps_ramp_epochs=0).budget_at(0) == (0.3, 0.1)
    x, y = _toy()
    trainer = _trainer()
    attack = PGD(trainer.model, norm="linf", eps=0.3, step_size=0.1, steps=3)
    budgets = []

    def before_epoch(epoch):
        metrics = _ramp(attack, settings, epoch)
        budgets.append((float(attack._eps.numpy()), float(attack._step_size.numpy())))  # what the epoch attacks with
        return metrics

    trainer.adversary = lambda xb, yb, s: attack(xb, yb, (0, s[0] * 1000 + s[1]))[0]
    trainer.before_epoch = before_epoch
    hist = loop.fit(trainer, epochs=4, train_data=_data(x, y), log=lambda _: None)
    assert [m["train/attack_eps"] for m in hist] == pytest.approx([0.1, 0.2, 0.3, 0.3])
    np.testing.assert_allclose(budgets, [(0.1, 0.1 / 3), (0.2, 0.2 / 3), (0.3, 0.1), (0.3, 0.1)], rtol=1e-6)


def test_weight_decay_adds_exactly_wd_times_w_to_the_gradient():
    x, y = _toy(32)
    a, b = _trainer(lr=0.5, wd=0.0, momentum=0.0), _trainer(lr=0.5, wd=0.01, momentum=0.0)
    w0 = [v.numpy() for v in a.model.trainable_variables]
    for t in (a, b):
        t.train_epoch(pipeline.eval_dataset(x, y, 32))
    for va, vb, w in zip(a.model.trainable_variables, b.model.trainable_variables, w0):
        np.testing.assert_allclose(vb.numpy() - va.numpy(), -0.5 * 0.01 * w, atol=1e-6)


def test_schedules():
    pw = optim.make_schedule("piecewise", 1.0, steps_per_epoch=10, epochs=10, boundaries=(0.5, 0.75), decay=0.1)
    assert [float(pw(s)) for s in (0, 50, 51, 76)] == pytest.approx([1.0, 1.0, 0.1, 0.01])
    cos = optim.make_schedule("cosine", 1.0, steps_per_epoch=10, epochs=10)
    assert float(cos(0)) == pytest.approx(1.0) and float(cos(100)) == pytest.approx(0.0, abs=1e-6)
    assert float(cos(50)) == pytest.approx(0.5, abs=1e-6)


def test_resume_from_checkpoint_equals_uninterrupted(tmp_path):
    x, y = _toy()
    whole = _trainer()
    loop.fit(whole, epochs=3, train_data=_data(x, y), checkpoint_dir=str(tmp_path / "a"), log=lambda _: None)
    first = _trainer()
    loop.fit(first, epochs=1, train_data=_data(x, y), checkpoint_dir=str(tmp_path / "b"), log=lambda _: None)
    resumed = _trainer()  # a new process would build the model afresh
    ran = loop.fit(resumed, epochs=3, train_data=_data(x, y), checkpoint_dir=str(tmp_path / "b"), log=lambda _: None)
    assert len(ran) == 2
    for va, vb in zip(whole.model.weights, resumed.model.weights):
        np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-5, atol=1e-6)
    data = next((tmp_path / "b").glob("ckpt-3.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])  # a truncated copy or a torn disk
    with pytest.raises(TrainingError, match=r"ckpt-3 cannot be restored \(IndexError.* -- .*delete .*/b and rerun"):
        loop.fit(_trainer(), epochs=4, train_data=_data(x, y), checkpoint_dir=str(tmp_path / "b"), log=lambda _: None)
