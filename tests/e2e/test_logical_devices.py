"""tf.distribute on two logical CPUs: MirroredStrategy training (clean and adversarial) and
adversarial-dataset generation split across local devices match one device. Logical devices must
be configured before TensorFlow starts, so each test runs in a fresh process."""

import os
import subprocess
import sys

from conftest import ROOT

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
from robust_keras.data import adversarial, adversarial_reader
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
a, b = adversarial_reader.load(f"{out}/two"), adversarial_reader.load(f"{out}/one")
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
