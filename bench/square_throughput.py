"""Square Attack throughput against the model's forward-pass bound, same run.

    .venv/bin/python bench/square_throughput.py [--models cnn_mnist,resnet18] [--batch 128] [--queries 200]

For each model at batch B it times, after warm-up, the median of ``--repeats`` runs of:
  bound/forward  ``--queries`` forward passes chained in one compiled loop (bounds.forward_loop:
                 one forward per query, nothing else)
  square-linf    robust_keras Square, l-inf, ``--queries`` iterations
  square-l2      the same, l2
in image*queries/s, with the ratio to the bound. The labels are the model's own predictions and the
budget is tiny (eps 1e-4), so no example is broken early and every one pays every query: the
measured rate is the attack's per-query cost, not an early-stopping saving.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402
from bounds import forward_loop, median_seconds  # noqa: E402
from pgd_throughput import SHAPES  # noqa: E402

from robust_keras.attacks.square import Square  # noqa: E402
from robust_keras.models import build_model  # noqa: E402

NORMS = ("linf", "l2")


def bench_model(name: str, batch: int, queries: int, repeats: int) -> list[tuple[str, float, float]]:
    shape = SHAPES[name]
    c = shape[-1]
    model = build_model(name, shape, 10, mean=[0.5] * c, std=[0.25] * c, seed=0)
    x = tf.random.uniform([batch, *shape], seed=1)
    y = tf.argmax(model(x), -1)
    chained = forward_loop(model, queries)
    bound = batch * queries / median_seconds(lambda: chained(x).numpy(), repeats)
    rows = [(f"{name} bound/forward", bound, 1.0)]
    for norm in NORMS:
        attack = Square(model, norm=norm, eps=1e-4, queries=queries)
        seconds = median_seconds(lambda a=attack: a(x, y, (0, 0))[2].numpy(), repeats)
        spent = int(tf.reduce_sum(attack(x, y, (0, 0))[2]))
        assert spent == batch * (queries + 1), f"{spent} queries: some example stopped early"
        rate = batch * queries / seconds
        rows.append((f"{name} square-{norm}", rate, rate / bound))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cnn_mnist,resnet18")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}")
    print(f"{'measurement (img*queries/s)':30s} {'rate':>10s} {'/bound':>7s}")
    for name in args.models.split(","):
        for label, rate, to_bound in bench_model(name, args.batch, args.queries, args.repeats):
            print(f"{label:30s} {rate:10.1f} {to_bound:7.3f}", flush=True)


if __name__ == "__main__":
    main()
