"""PGD and training throughput against the model's own forward+backward bound, same run.

    .venv/bin/python bench/pgd_throughput.py [--models cnn_mnist,resnet18] [--batch 128]

For each model at batch B it times, after warm-up, the median of ``--repeats`` runs of:
  bound/input   ``--steps`` forward + backward passes to the input chained in one compiled loop
                (bounds.gradient_loop: what PGD must compute, run as PGD runs), image*steps/s
  bound/one-call  one compiled forward + backward per call (a launch per pass; for information)
  pgd           robust_keras PGD (l2, ``--steps`` steps, best-iterate bookkeeping), image*steps/s
  pgd/last      the same without best-iterate bookkeeping (keep_best=False: the last iterate)
  bound/params  one compiled forward + backward to the parameters (what a train step must do)
  train         robust_keras Trainer step (loss, grads, SGD momentum update, metrics), images/s
and prints each rate with its ratio to the bound. Goal: pgd >= 0.95 x bound/input.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from bounds import gradient_loop, gradient_passes, median_seconds  # noqa: E402

from robust_keras.attacks import PGD  # noqa: E402
from robust_keras.models import build_model  # noqa: E402
from robust_keras.training import loop, optim  # noqa: E402

SHAPES = {"cnn_mnist": (28, 28, 1), "cnn_cifar": (32, 32, 3), "resnet18": (32, 32, 3)}


def bench_model(name: str, batch: int, steps: int, repeats: int) -> list[tuple[str, float, float]]:
    shape = SHAPES[name]
    c = shape[-1]
    model = build_model(name, shape, 10, mean=[0.5] * c, std=[0.25] * c, seed=0)
    x = tf.random.uniform([batch, *shape], seed=1)
    y = tf.random.uniform([batch], 0, 10, dtype=tf.int64, seed=2)
    grad_input, grad_params = gradient_passes(model)

    chained = gradient_loop(model, steps)
    attack = PGD(model, norm="l2", eps=0.5, step_size=0.1, steps=steps)
    last = PGD(model, norm="l2", eps=0.5, step_size=0.1, steps=steps, keep_best=False)
    trainer = loop.Trainer(model, optim.make_optimizer("sgd", 0.01))

    t_loop = median_seconds(lambda: chained(x, y).numpy(), repeats)
    t_in = median_seconds(lambda: grad_input(x, y).numpy(), repeats)
    t_pgd = median_seconds(lambda: attack(x, y, (0, 0))[0].numpy(), repeats)
    t_last = median_seconds(lambda: last(x, y, (0, 0))[0].numpy(), repeats)
    t_par = median_seconds(lambda: [g.numpy() for g in grad_params(x, y)], repeats)
    seed = tf.constant([0, 0], tf.int64)  # the per-batch attack seed (unused without an adversary)
    t_train = median_seconds(lambda: [float(v) for v in trainer._train_step(x, y, seed)], repeats)
    bound_in, one_call, bound_par = batch * steps / t_loop, batch / t_in, batch / t_par
    pgd_rate, last_rate, train_rate = batch * steps / t_pgd, batch * steps / t_last, batch / t_train
    return [
        (f"{name} bound/input (img*steps/s)", bound_in, 1.0),
        (f"{name} bound/one-call (img/s)", one_call, one_call / bound_in),
        (f"{name} pgd (img*steps/s)", pgd_rate, pgd_rate / bound_in),
        (f"{name} pgd/last (img*steps/s)", last_rate, last_rate / bound_in),
        (f"{name} bound/params (img/s)", bound_par, 1.0),
        (f"{name} train (img/s)", train_rate, train_rate / bound_par),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cnn_mnist,resnet18")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}")
    print(f"{'measurement':40s} {'rate':>12s} {'ratio':>7s}")
    for name in args.models.split(","):
        for label, rate, ratio in bench_model(name, args.batch, args.steps, args.repeats):
            print(f"{label:40s} {rate:12.1f} {ratio:7.3f}", flush=True)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
