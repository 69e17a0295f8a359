"""FAB-T throughput against its bound, same run.

    .venv/bin/python bench/fab_throughput.py [--models cnn_mnist,resnet18] [--batch 128] [--steps 20]

One FAB-T iteration needs one forward + backward to the input (the gradient of z_t - z_y) and one
forward (is the new iterate misclassified?), so its bound is the time of ``--steps`` chained
forward + backward passes (bounds.gradient_loop) plus ``--steps`` chained forward passes
(bounds.forward_loop), each in one compiled loop. Reported in image*steps/s with the ratio to that
bound; the rest is FAB's own work: two box-constrained projections per example and step (a sort of
the D coordinates each).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402
from bounds import forward_loop, gradient_loop, median_seconds  # noqa: E402
from pgd_throughput import SHAPES  # noqa: E402

from robust_keras.attacks.fab import FABTargeted  # noqa: E402
from robust_keras.models import build_model  # noqa: E402


def bench_model(name: str, batch: int, steps: int, repeats: int) -> list[tuple[str, float, float]]:
    shape = SHAPES[name]
    c = shape[-1]
    model = build_model(name, shape, 10, mean=[0.5] * c, std=[0.25] * c, seed=0)
    x = tf.random.uniform([batch, *shape], seed=1)
    y = tf.argmax(model(x), -1)
    gradients, forwards = gradient_loop(model, steps), forward_loop(model, steps)
    bound_seconds = median_seconds(lambda: gradients(x, y).numpy(), repeats) + median_seconds(
        lambda: forwards(x).numpy(), repeats
    )
    bound = batch * steps / bound_seconds
    rows = [(f"{name} bound/grad+forward", bound, 1.0)]
    for norm in ("linf", "l2"):
        attack = FABTargeted(model, norm=norm, eps=8 / 255, steps=steps)
        rate = batch * steps / median_seconds(lambda a=attack: a(x, y)[0].numpy(), repeats)
        rows.append((f"{name} fab-t-{norm}", rate, rate / bound))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cnn_mnist,resnet18")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}")
    print(f"{'measurement (img*steps/s)':30s} {'rate':>10s} {'/bound':>7s}")
    for name in args.models.split(","):
        for label, rate, to_bound in bench_model(name, args.batch, args.steps, args.repeats):
            print(f"{label:30s} {rate:10.1f} {to_bound:7.3f}", flush=True)


if __name__ == "__main__":
    main()
