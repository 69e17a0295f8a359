"""PGD and training under --mixed_precision's policies against float32, same weights, same run.

    .venv/bin/python bench/mixed_precision.py [--models cnn_mnist,resnet18] [--policies mixed_bfloat16]

For each model at batch B, and for float32 (the baseline) then each policy in ``--policies``
(models built under that policy, float32 weights copied in), it times the median of
``--repeats`` runs of:
  pgd     robust_keras PGD (l2, ``--steps`` steps), image*steps/s
  train   robust_keras Trainer step (loss, grads, SGD momentum update), images/s
and prints each rate with its ratio to float32's, plus how far the policy's clean logits and
PGD's adversarial inputs land from float32's (max |difference| / max |float32 logit|; the
fraction of adversarial inputs whose predicted class agrees). bfloat16 is only fast on hardware
with bfloat16 arithmetic (robust_keras/precision.py); the script says when this host lacks it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from bounds import median_seconds  # noqa: E402

from robust_keras import precision  # noqa: E402
from robust_keras.attacks import PGD  # noqa: E402
from robust_keras.models import build_model  # noqa: E402
from robust_keras.training import loop, optim  # noqa: E402

SHAPES = {"cnn_mnist": (28, 28, 1), "cnn_cifar": (32, 32, 3), "resnet18": (32, 32, 3)}


def _measure(name, policy, weights, x, y, steps, repeats):
    """(pgd img*steps/s, train img/s, clean logits, adversarial logits) of ``name`` under ``policy``."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        c = x.shape[-1]
        model = build_model(name, x.shape[1:], 10, mean=[0.5] * c, std=[0.25] * c, seed=0)
        model.set_weights(weights)
        attack = PGD(model, norm="l2", eps=0.5, step_size=0.1, steps=steps)
        x_adv = attack(x, y, (0, 0))[0]
        clean, adv = model(x, training=False).numpy(), model(x_adv, training=False).numpy()
        t_pgd = median_seconds(lambda: attack(x, y, (0, 0))[0].numpy(), repeats)
        trainer = loop.Trainer(model, optim.make_optimizer("sgd", 0.01, loss_scaling=policy == "mixed_float16"))
        seed = tf.constant([0, 0], tf.int64)
        t_train = median_seconds(lambda: [float(v) for v in trainer._train_step(x, y, seed)], repeats)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    batch = int(x.shape[0])
    return batch * steps / t_pgd, batch / t_train, clean, adv


def bench_model(name, policies, batch, steps, repeats):
    shape = SHAPES[name]
    x = tf.random.uniform([batch, *shape], seed=1)
    y = tf.random.uniform([batch], 0, 10, dtype=tf.int64, seed=2)
    weights = build_model(name, shape, 10, mean=[0.5] * shape[-1], std=[0.25] * shape[-1], seed=0).get_weights()
    pgd32, train32, clean32, adv32 = _measure(name, "float32", weights, x, y, steps, repeats)
    rows = [(f"{name} float32 pgd (img*steps/s)", pgd32, 1.0, ""), (f"{name} float32 train (img/s)", train32, 1.0, "")]
    scale = np.abs(clean32).max()
    for policy in policies:
        pgd, train, clean, adv = _measure(name, policy, weights, x, y, steps, repeats)
        drift = f"logits {np.abs(clean - clean32).max() / scale:.1e}"
        agree = f"adv class agrees {np.mean(adv.argmax(1) == adv32.argmax(1)):.3f}"
        rows += [
            (f"{name} {policy} pgd (img*steps/s)", pgd, pgd / pgd32, f"{drift}, {agree}"),
            (f"{name} {policy} train (img/s)", train, train / train32, ""),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cnn_mnist,resnet18")
    parser.add_argument("--policies", default="mixed_bfloat16", help="comma-separated: mixed_bfloat16, mixed_float16")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}")
    problem = precision.host_bfloat16_problem()
    if problem and "mixed_bfloat16" in args.policies:
        print(f"# note: {problem}: bfloat16 is emulated here")
    print(f"{'measurement':44s} {'rate':>10s} {'vs f32':>7s}  agreement with float32")
    policies = args.policies.split(",")
    for name in args.models.split(","):
        for label, rate, ratio, note in bench_model(name, policies, args.batch, args.steps, args.repeats):
            print(f"{label:44s} {rate:10.1f} {ratio:7.3f}  {note}", flush=True)


if __name__ == "__main__":
    main()
