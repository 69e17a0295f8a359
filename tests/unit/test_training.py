"""The training loop: learning, weight decay, schedules, checkpoint resume, MirroredStrategy."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from robust_keras.data import pipeline
from robust_keras.errors import TrainingError
from robust_keras.models import build_model
from robust_keras.training import loop, optim
from robust_keras.training.evaluators import ClassificationEvaluator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


MIRRORED = r"""
import numpy as np, tensorflow as tf
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)
from robust_keras.models import build_model
from robust_keras.training import loop, optim
from robust_keras.data import pipeline
from robust_keras.errors import TrainingError
rng = np.random.default_rng(0)
x = rng.random((64, 2, 2, 1), dtype=np.float32); y = rng.integers(0, 2, 64)
def run(strategy):
    with strategy.scope():
        model = build_model("two_layer", (2, 2, 1), 2, mean=[0.5], std=[0.2], width=8, seed=0)
        t = loop.Trainer(model, optim.make_optimizer("sgd", 0.1), weight_decay=1e-3, strategy=strategy)
    m = t.train_epoch(pipeline.eval_dataset(x, y, 16))
    return [v.numpy() for v in model.trainable_variables], m
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert mirrored.num_replicas_in_sync == 2
wa, ma = run(mirrored)
wb, mb = run(tf.distribute.get_strategy())
m_clean = mb["train/loss"]
for a, b in zip(wa, wb):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
assert abs(ma["train/loss"] - mb["train/loss"]) < 1e-4, (ma, mb)
from robust_keras.attacks import PGD
def run_adversarial(strategy):  # PGD inside each replica's step, on its half of the batch
    with strategy.scope():
        model = build_model("two_layer", (2, 2, 1), 2, mean=[0.5], std=[0.2], width=8, seed=0)
        attack = PGD(model, norm="linf", eps=0.1, step_size=0.05, steps=2)  # no random start: seeds do not matter
        t = loop.Trainer(model, optim.make_optimizer("sgd", 0.1), strategy=strategy,
                         adversary=lambda x, y, s: attack(x, y, s)[0])
    m = t.train_epoch(pipeline.eval_dataset(x, y, 16))
    return [v.numpy() for v in model.trainable_variables], m
wa, ma = run_adversarial(mirrored)
wb, mb = run_adversarial(tf.distribute.get_strategy())
for a, b in zip(wa, wb):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
assert abs(ma["train/loss"] - mb["train/loss"]) < 1e-4 and ma["train/loss"] > m_clean, (ma, mb)
print("MIRRORED_OK")
"""


def test_mirrored_strategy_on_two_logical_cpus_matches_single_device():
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([sys.executable, "-c", MIRRORED], env=env, capture_output=True, text=True, timeout=300)
    assert "MIRRORED_OK" in out.stdout, out.stderr[-3000:]


SPLIT_GENERATION = r"""
import sys, numpy as np, tensorflow as tf
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)
from robust_keras import distribute
from robust_keras.attacks import PGD
from robust_keras.data import adversarial
from robust_keras.export import export_model, load_model
from robust_keras.models import build_model
out = sys.argv[1]
export_model(build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.1], std=[0.3], seed=0), f"{out}/m", {})
rng = np.random.default_rng(0)
x = rng.random((90, 28, 28, 1), dtype=np.float32); y = rng.integers(0, 10, 90); t = (y + 1) % 10
def write(directory, strategy):
    model = load_model(f"{out}/m")
    attack = PGD(model, norm="l2", eps=1.0, step_size=0.25, steps=3, targeted=True)
    fn = distribute.split_over_replicas(lambda a, b, s: attack(a, b, s)[:2], strategy)
    return adversarial.generate(directory, images=x, orig_labels=y, targets=t, attack_fn=fn, spec={}, shard_size=40,
                                batch_size=25, seed=1, log=lambda _: None)
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
write(f"{out}/two", mirrored)  # batches of 25 (and a last one of 15): parts of 13 + 12, 8 + 7
write(f"{out}/one", tf.distribute.get_strategy())
a, b = adversarial.load(f"{out}/two"), adversarial.load(f"{out}/one")
np.testing.assert_allclose(a.images, b.images, atol=1e-5)  # no random start: the same iterates per example
np.testing.assert_array_equal(a.target_hit, b.target_hit)
np.testing.assert_array_equal(a.labels, t)
print("SPLIT_OK")
"""


def test_generation_splits_each_batch_across_local_devices(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-c", SPLIT_GENERATION, str(tmp_path)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert "SPLIT_OK" in out.stdout, out.stderr[-3000:]
