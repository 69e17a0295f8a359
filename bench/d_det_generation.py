"""D_det generation and one pathway-grid cell, against the model's own gradient pass, same run.

    .venv/bin/python bench/d_det_generation.py [--model resnet18] [--images 128] [--steps 100]

Times, after warm-up:
  bound/input    ``--steps`` forward + backward passes to the input at the generation batch,
                 chained in one compiled loop (bounds.gradient_loop: what the attack must
                 compute, run as it runs), image*steps/s
  generation     ``data.adversarial.generate`` end to end: targeted l2 PGD (the paper's 100
                 steps, eps 0.5, step 0.1, best iterate) + serialising + sha256 + manifest,
                 image*steps/s, with its ratio to the bound
  train step     the Trainer over ``--images`` D_det examples, images/s, against the bound of a
                 forward + backward to the parameters over the same batches
  cell epoch     one epoch of a pathway-grid cell: the train step plus the four-curve
                 evaluators (val, D, D_shift) and the performance correlation, images/s
Then extrapolates a paper-scale cell (45k train, 5k val, 2 x 10k test, 120 epochs) from the
measured rates; that line is an estimate, labelled as such.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from bounds import gradient_loop, gradient_passes, median_seconds  # noqa: E402

from robust_keras.attacks import PGD  # noqa: E402
from robust_keras.data import adversarial, transforms  # noqa: E402
from robust_keras.models import build_model  # noqa: E402
from robust_keras.training import loop, optim  # noqa: E402
from robust_keras.training.evaluators import ClassificationEvaluator, PerformanceCorrelationEvaluator  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}")
    shape = (32, 32, 3)
    model = build_model(args.model, shape, 10, mean=[0.5] * 3, std=[0.25] * 3, seed=0)
    rng = np.random.default_rng(0)
    images = rng.random((args.images, *shape), dtype=np.float32)
    labels = rng.integers(0, 10, args.images).astype(np.int64)
    targets = transforms.shifted_labels(labels, 10)
    _, grad_params = gradient_passes(model)

    xb, yb = tf.constant(images[: args.batch]), tf.constant(targets[: args.batch])
    chained = gradient_loop(model, args.steps)
    t_bound = median_seconds(lambda: chained(xb, yb).numpy(), args.repeats)
    bound = len(xb) * args.steps / t_bound
    attack = PGD(model, norm="l2", eps=0.5, step_size=0.1, steps=args.steps, targeted=True)
    attack(xb, yb, (0, 0))  # trace once, as a real run does before its first shard

    def generate_once():
        with tempfile.TemporaryDirectory() as d:
            adversarial.generate(
                d,
                images=images,
                orig_labels=labels,
                targets=targets,
                attack_fn=lambda x, t, s: attack(x, t, s)[:2],
                spec={"bench": True},
                shard_size=args.images,
                batch_size=args.batch,
                seed=0,
                log=lambda _: None,
            )

    start = time.perf_counter()
    generate_once()  # one timed run: 100-step PGD is long enough to need no repeats
    t_gen = time.perf_counter() - start
    gen_rate = args.images * args.steps / t_gen
    print(f"{'measurement':52s} {'rate':>12s} {'ratio':>7s}")
    _row(f"{args.model} bound/input, {args.steps} chained passes (img*steps/s)", bound, 1.0)
    _row(f"{args.model} D_det generation, {args.steps}-step l2 (img*steps/s)", gen_rate, gen_rate / bound)

    trainer = loop.Trainer(model, optim.make_optimizer("sgd", 0.1))
    evaluators = [ClassificationEvaluator(n, images, labels, 500) for n in ("val", "clean", "shift")]
    evaluators.append(PerformanceCorrelationEvaluator("val", images, labels, labels, 500))
    ds = tf.data.Dataset.from_tensor_slices((images, targets)).batch(args.batch)
    t_train = median_seconds(lambda: trainer.train_epoch(ds), args.repeats)
    t_eval = median_seconds(lambda: [dict(e.evaluate(trainer.predict)) for e in evaluators], args.repeats)
    t_par = median_seconds(lambda: [[g.numpy() for g in grad_params(x, y)] for x, y in ds], args.repeats)
    n = args.images
    cell_rate, par_rate = n / (t_train + t_eval), n / t_par
    _row(f"{args.model} bound/params over the epoch (img/s)", par_rate, 1.0)
    _row(f"{args.model} train step (img/s)", n / t_train, t_par / t_train)
    _row(f"{args.model} cell epoch: train + 4 evaluators (img/s)", cell_rate, cell_rate / par_rate)
    # Paper-scale cell per epoch: 45k training images; evaluators see 5k val (twice: accuracy and
    # performance correlation) and 2 x 10k test images; each evaluator image costs t_eval / (4 n).
    epoch_s = 45_000 * t_train / n + (2 * 5_000 + 2 * 10_000) * t_eval / (4 * n)
    print(f"# estimate, not measured: one paper-scale cell (120 epochs) on this machine ~ {120 * epoch_s / 3600:.0f} h")


def _row(label: str, rate: float, ratio: float) -> None:
    print(f"{label:52s} {rate:12.1f} {ratio:7.3f}", flush=True)


if __name__ == "__main__":
    main()
