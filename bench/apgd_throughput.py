"""APGD throughput against PGD and the model's forward+backward-to-input bound, same run.

    .venv/bin/python bench/apgd_throughput.py [--models cnn_mnist,resnet18] [--batch 128] [--steps 20]

For each model at batch B it times, after warm-up, the median of ``--repeats`` runs of:
  bound/input   ``--steps`` forward + backward passes to the input chained in one compiled loop
                (bounds.gradient_loop: what the attack must compute, run as an attack runs)
  pgd           robust_keras PGD (l-inf, ``--steps`` steps, best-iterate bookkeeping)
  apgd-ce       APGD with the CE loss (same steps; checkpoints, momentum, best point per example)
  apgd-t        APGD-T (targeted DLR, one target class per restart)
each in image*steps/s, with its ratio to the bound and to PGD. APGD does one forward + backward per
step like PGD, plus elementwise bookkeeping, so its goal is to stay near PGD's rate.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402
from bounds import gradient_loop, median_seconds  # noqa: E402
from pgd_throughput import SHAPES  # noqa: E402

from robust_keras.attacks import APGD, PGD  # noqa: E402
from robust_keras.models import build_model  # noqa: E402


def bench_model(name: str, batch: int, steps: int, repeats: int) -> list[tuple[str, float, float, float]]:
    shape = SHAPES[name]
    c = shape[-1]
    model = build_model(name, shape, 10, mean=[0.5] * c, std=[0.25] * c, seed=0)
    x = tf.random.uniform([batch, *shape], seed=1)
    y = tf.random.uniform([batch], 0, 10, dtype=tf.int64, seed=2)
    chained = gradient_loop(model, steps)
    attacks = {
        "pgd": PGD(model, norm="linf", eps=8 / 255, step_size=2 / 255, steps=steps, random_start=True),
        "apgd-ce": APGD(model, norm="linf", eps=8 / 255, steps=steps, loss="ce"),
        "apgd-t": APGD(model, norm="linf", eps=8 / 255, steps=steps, loss="dlr_targeted"),
    }
    bound = batch * steps / median_seconds(lambda: chained(x, y).numpy(), repeats)
    rates = {
        k: batch * steps / median_seconds(lambda a=a: a(x, y, (0, 0))[0].numpy(), repeats) for k, a in attacks.items()
    }
    rows = [(f"{name} bound/input", bound, 1.0, float("nan"))]
    rows += [(f"{name} {k}", r, r / bound, r / rates["pgd"]) for k, r in rates.items()]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cnn_mnist,resnet18")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}")
    print(f"{'measurement (img*steps/s)':28s} {'rate':>10s} {'/bound':>7s} {'/pgd':>6s}")
    for name in args.models.split(","):
        for label, rate, to_bound, to_pgd in bench_model(name, args.batch, args.steps, args.repeats):
            print(f"{label:28s} {rate:10.1f} {to_bound:7.3f} {to_pgd:6.3f}", flush=True)


if __name__ == "__main__":
    main()
