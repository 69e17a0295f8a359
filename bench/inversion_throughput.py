"""Representation-inversion throughput (D_R / D_NR) against the model's own gradient pass, same run.

    .venv/bin/python bench/inversion_throughput.py [--models cnn_mnist,cnn_cifar] [--batch 128] [--steps 20]

For each model at batch B it times, after warm-up, the median of ``--repeats`` runs of:
  bound/input      one compiled forward + backward to the input of the full model (cross-entropy)
  bound/repr       one compiled forward + backward to the input of ||g(z) - g(x)||_2 (g = penultimate)
  inversion        RepresentationInversion, ``--steps`` steps on the Keras model's representation
  inversion/saved  the same through the exported SavedModel's ``representation`` endpoint (what
                   ``--experiment=robust_datasets`` runs)
each in image*steps/s with its ratio to bound/input. One inversion step is one forward + backward of
g plus an l2 normalisation and a best-iterate select, so the goal is to stay near bound/repr.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402
from bounds import gradient_passes, median_seconds  # noqa: E402
from pgd_throughput import SHAPES  # noqa: E402

from robust_keras.attacks.inversion import RepresentationInversion  # noqa: E402
from robust_keras.export import export_model, load_model  # noqa: E402
from robust_keras.models import build_model, representation_model  # noqa: E402


def bench_model(name: str, batch: int, steps: int, repeats: int) -> list[tuple[str, float, float]]:
    shape = SHAPES[name]
    c = shape[-1]
    model = build_model(name, shape, 10, mean=[0.5] * c, std=[0.25] * c, seed=0)
    g = representation_model(model)
    x = tf.random.uniform([batch, *shape], seed=1)
    x0 = tf.random.uniform([batch, *shape], seed=3)
    y = tf.random.uniform([batch], 0, 10, dtype=tf.int64, seed=2)
    grad_input, _ = gradient_passes(model)
    goal = g(x)

    @tf.function
    def grad_repr(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            distance = tf.norm(tf.reshape(g(z) - goal, [batch, -1]), axis=1)
        return tape.gradient(distance, z)

    with tempfile.TemporaryDirectory() as tmp:
        export_model(model, os.path.join(tmp, "m"), {})
        saved = load_model(os.path.join(tmp, "m"))
        inversions = {
            "inversion": RepresentationInversion(g, steps=steps, step_size=0.1),
            "inversion/saved": RepresentationInversion(saved.representation, steps=steps, step_size=0.1),
        }
        bound = batch / median_seconds(lambda: grad_input(x, y).numpy(), repeats)
        rows = [(f"{name} bound/input", bound, 1.0)]
        rate = batch / median_seconds(lambda: grad_repr(x0).numpy(), repeats)
        rows.append((f"{name} bound/repr", rate, rate / bound))
        for label, inversion in inversions.items():
            rate = batch * steps / median_seconds(lambda i=inversion: i(x, x0)[0].numpy(), repeats)
            rows.append((f"{name} {label}", rate, rate / bound))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cnn_mnist,cnn_cifar")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}")
    print(f"{'measurement (img*steps/s)':28s} {'rate':>10s} {'/bound':>7s}")
    for name in args.models.split(","):
        for label, rate, to_bound in bench_model(name, args.batch, args.steps, args.repeats):
            print(f"{label:28s} {rate:10.1f} {to_bound:7.3f}", flush=True)


if __name__ == "__main__":
    main()
