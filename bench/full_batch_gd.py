"""Full-batch GD steps/s for the feature-averaging setting, against NumPy in the same run.

    .venv/bin/python bench/full_batch_gd.py [--k 10 --d 3072 --n 1000 --m 5 --steps 200]

robust_keras: ``FullBatchGD`` (binary two-layer net, logistic loss), ``--steps`` steps in one
compiled graph (also with ``jit_compile``), and ``DualFullBatchGD``, the same steps run on the
pre-activations P = X W + b through the (n, n) Gram matrix (exact reformulation). Baseline:
``robust_keras.training.reference.gd_step``, the same step in NumPy (float32, the same data and
weights). Also printed: achieved GFLOP/s of the plain step's two matmuls (4 n d 2m flops) against
a large square float32 matmul measured in the same run, the practical ceiling of this CPU.
Goal (issue #3): >= 3x the NumPy step rate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from robust_keras.data.synthetic import make_cluster_splits  # noqa: E402
from robust_keras.models.cluster_nets import binary_net  # noqa: E402
from robust_keras.training import reference  # noqa: E402
from robust_keras.training.full_batch import DualFullBatchGD, FullBatchGD  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in (("k", 10), ("d", 3072), ("n", 1000), ("m", 5), ("steps", 200), ("repeats", 3)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    train, _ = make_cluster_splits(args.k, args.d, args.n, 1, seed=0)
    lr = 8.0 / np.sqrt(args.d)
    model = binary_net(args.d, args.m, seed=0)
    gd = FullBatchGD(model, train.x, train.y, loss="logistic", learning_rate=lr)
    gd_xla = FullBatchGD(
        binary_net(args.d, args.m, seed=0), train.x, train.y, loss="logistic", learning_rate=lr, jit_compile=True
    )
    gd_dual = DualFullBatchGD(binary_net(args.d, args.m, seed=0), train.x, train.y, loss="logistic", learning_rate=lr)
    kernel, bias = (v.numpy() for v in model.get_layer("hidden").weights)
    readout = model.get_layer("readout").kernel.numpy()[:, 0]
    x, y = train.x, train.y.astype(np.float32)

    gram = x @ x.T + 1.0  # (n, n), formed once like DualFullBatchGD does

    def numpy_dual_steps():
        pre, total = x @ kernel + bias, np.zeros((len(y), 2 * args.m), np.float32)
        for _ in range(args.steps):
            pre, grad = reference.dual_gd_step(pre, y, gram, readout, lr)
            total += grad
        return kernel - np.float32(lr) * (x.T @ total)  # W rebuilt once, as in DualFullBatchGD.sync

    def numpy_steps():
        w, b = kernel, bias
        for _ in range(args.steps):
            w, b = reference.gd_step(x, y, w, b, readout, lr)

    square = tf.random.uniform([2048, 2048])
    matmul = tf.function(lambda a: tf.reduce_sum(a @ a))

    rates = {}
    for label, fn in (
        ("numpy", numpy_steps),
        ("robust_keras", lambda: gd.run(args.steps)),
        ("robust_keras (XLA)", lambda: gd_xla.run(args.steps)),
        ("numpy (dual)", numpy_dual_steps),
        ("robust_keras (dual)", lambda: gd_dual.run(args.steps)),
        ("square matmul", lambda: [float(matmul(square)) for _ in range(args.steps // 20 or 1)]),
    ):
        fn()  # warm-up / trace
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        rates[label] = args.steps / statistics.median(times)
    print(
        f"# k={args.k} d={args.d} n={args.n} m={args.m}, {os.cpu_count()} cores, TF {tf.__version__}, "
        f"NumPy {np.__version__}"
    )
    peak = 2 * 2048**3 * (args.steps // 20 or 1) * rates.pop("square matmul") / args.steps / 1e9  # GFLOP/s
    flops = 4 * args.n * args.d * 2 * args.m
    print(f"{'implementation':20s} {'steps/s':>10s} {'vs numpy':>9s} {'GFLOP/s':>8s} {'of peak':>8s}")
    for label, rate in rates.items():
        gflops = rate * flops / 1e9  # flops of the plain step, so "dual" shows its effective rate
        print(f"{label:20s} {rate:10.1f} {rate / rates['numpy']:9.2f} {gflops:8.1f} {gflops / peak:8.2f}")
    print(f"{'square matmul peak':20s} {'':>10s} {'':>9s} {peak:8.1f} {1.0:8.2f}")


if __name__ == "__main__":
    main()
