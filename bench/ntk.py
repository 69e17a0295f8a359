"""Empirical-NTK throughput and peak memory (issue #4), one subprocess per measurement.

    .venv/bin/python bench/ntk.py [--sizes 128,256,512,1024] [--jacobian_max 256]
    .venv/bin/python bench/ntk.py --sizes 10000 --kinds traced --models mlp --jacobian_max 0 --no_fast_path

Models: MLP 784-512-512-10 and the MNIST CNN of App. E, on random inputs, both kernel kinds
(full (N, N, 10, 10) and traced (N, N)). For each: seconds (median of 3 for structured at N <= 2048),
entries/s, achieved GFLOP/s of the method's dominant contractions over a 2048^2 float32 matmul
timed in the same process (the FLOP-bound ratio), and the child's peak RSS. Baselines measured in the same run:
  jacobian       robust_keras chunked GradientTape.jacobian contraction (up to --jacobian_max)
  plain_jacobian one GradientTape.jacobian over all N inputs, then contraction (the naive TF way),
                 for the two-layer ReLU fast-path ratio (784-1024-10, N = 128)
Peers (neural-tangents, JAX and its TF wrapper) run from their own environment: see
bench/ntk_peers.py, which takes the same weights (and check kernels) from ``--export_weights``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _models():
    import keras

    from robust_keras.models import build_model

    def mlp(widths=(512, 512)):
        inputs = keras.Input((28, 28, 1))
        h = keras.layers.Flatten()(inputs)
        for w in widths:
            h = keras.layers.Dense(w, activation="relu")(h)
        return keras.Model(inputs, keras.layers.Dense(10)(h))

    return {
        "mlp": lambda: mlp(),
        "two_layer": lambda: mlp((1024,)),
        "cnn_mnist": lambda: build_model("cnn_mnist", (28, 28, 1), 10, mean=[0.13], std=[0.31], seed=0),
    }


def _structured_flops(model, n: int, traced: bool) -> float:
    """Dominant flops of the structured method. Per Dense layer: the input Gram (2 N^2 H_in) and the
    cotangent contraction (2 N^2 O^2 H_out, or 2 N^2 O H_out traced). Per Conv2D layer: forming
    the per-example weight Jacobian (2 N O H'W' P) and contracting it (2 N^2 O^2 P, or 2 N^2 O P).
    Pairwise terms count N (N + chunk) / 2 pairs: one input set, so only the upper block triangle."""
    import keras
    import numpy as np

    from robust_keras.ntk.empirical import auto_chunk_size

    total, o = 0.0, model.output_shape[-1]
    pairs = o if traced else o * o
    chunk = auto_chunk_size(model, n, "structured", "sum" if traced else None, 10)
    n2 = n * (n + chunk) / 2  # input pairs in the upper block triangle
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            h_in, h_out = layer.kernel.shape
            total += 2 * n2 * h_in + 2 * n2 * pairs * h_out
        elif isinstance(layer, keras.layers.Conv2D):
            params = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
            positions = int(np.prod(layer.output.shape[1:3]))
            total += 2 * n * o * positions * params + 2 * n2 * pairs * params
    return total


def child(model_name: str, method: str, n: int, traced: bool) -> dict:
    import numpy as np
    import tensorflow as tf

    from robust_keras.ntk import empirical_ntk

    model = _models()[model_name]()
    x = np.random.default_rng(0).random((n, 28, 28, 1), dtype=np.float32)
    a = tf.random.uniform([2048, 2048])
    mm = tf.function(lambda: tf.reduce_sum(a @ a))
    float(mm())
    start = time.perf_counter()
    for _ in range(5):
        float(mm())
    peak = 5 * 2 * 2048**3 / (time.perf_counter() - start) / 1e9
    trace = "sum" if traced else None
    if method == "plain_jacobian":
        run = lambda: _plain_jacobian(model, x, traced)  # noqa: E731
    else:
        chunk = None if method == "structured" else 32  # a 128-input CNN Jacobian chunk does not fit in 24 GiB
        run = lambda: empirical_ntk(model, x, method=method, trace=trace, chunk_size=chunk)  # noqa: E731
    if method == "structured" and n <= 2048:
        run()  # warm-up at the measured size, as the peers do (compiles and caches every graph)
    elif method == "structured":
        empirical_ntk(model, x[:1024], trace=trace)  # large N: one smaller kernel compiles the graphs
    else:
        empirical_ntk(model, x[:2], method="jacobian", trace=trace)  # the slow paths: a small warm-up
    repeats = 3 if method == "structured" and n <= 2048 else 1  # median of 3 for the fast path at N <= 2048
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        kernel = run()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    flops = _structured_flops(model, n, traced) if method == "structured" else float("nan")
    return {
        "model": model_name,
        "method": method,
        "n": n,
        "kernel": "traced" if traced else "full",
        "seconds": seconds,
        "entries_per_s": kernel.size / seconds,
        "gflops": flops / seconds / 1e9,
        "peak_gflops": peak,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _plain_jacobian(model, x, traced):
    import numpy as np
    import tensorflow as tf

    with tf.GradientTape() as tape:
        out = model(tf.constant(x), training=False)
    jac = tape.jacobian(out, model.trainable_variables, experimental_use_pfor=True)
    n, o = out.shape
    flat = tf.concat([tf.reshape(j, [n * o, -1]) for j in jac], axis=1)  # (N O, P)
    full = tf.reshape(flat @ tf.transpose(flat), [n, o, n, o])
    kernel = tf.transpose(full, [0, 2, 1, 3])
    return np.asarray(tf.linalg.trace(kernel) if traced else kernel)


def _export(path: str) -> None:
    """Weights of the MLP and the CNN plus robust_keras' full kernels on 6 check inputs, for the
    peers (bench/ntk_peers.py) to build the same models and confirm they compute the same kernel."""
    import numpy as np

    from robust_keras.ntk import empirical_ntk

    check_x = np.random.default_rng(1).random((6, 28, 28, 1), dtype=np.float32)
    arrays = {"check_x": check_x}
    for name in ("mlp", "cnn_mnist"):
        model = _models()[name]()
        weights = model.get_weights()
        arrays.update({f"{name}:{i}": w for i, w in enumerate(weights)}, **{f"{name}:count": len(weights)})
        arrays[f"{name}:check_full"] = empirical_ntk(model, check_x, method="jacobian", dtype=np.float64)
    np.savez(path, **arrays)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="128,256,512,1024")
    parser.add_argument("--jacobian_max", type=int, default=256)
    parser.add_argument("--models", default="mlp,cnn_mnist", help="models of the structured timings")
    parser.add_argument("--kinds", default="full,traced")
    parser.add_argument("--no_fast_path", action="store_true", help="skip the two-layer fast-path ratio")
    parser.add_argument("--child", default="")
    parser.add_argument("--export_weights", default="", help="write weights + check kernels for bench/ntk_peers.py")
    args = parser.parse_args()
    if args.export_weights:
        _export(args.export_weights)
        return
    if args.child:
        model_name, method, n, traced = args.child.split(":")
        print(json.dumps(child(model_name, method, int(n), traced == "traced")))
        return
    jobs = []
    for n in map(int, args.sizes.split(",")):
        for traced in args.kinds.split(","):
            for model in args.models.split(","):
                jobs.append((model, "structured", n, traced))
                if n <= args.jacobian_max:
                    jobs.append((model, "jacobian", n, traced))
    if not args.no_fast_path:
        jobs += [("two_layer", "structured", 128, "full"), ("two_layer", "plain_jacobian", 128, "full")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    print(
        f"{'model':10s} {'method':15s} {'N':>5s} {'kernel':7s} {'seconds':>9s} {'entries/s':>11s} "
        f"{'GFLOP/s':>8s} {'of peak':>8s} {'peak MB':>8s}",
        flush=True,
    )
    for job in jobs:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", ":".join(map(str, job))], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            print(f"{job[0]:10s} {job[1]:15s} {job[2]:5d} {job[3]:7s} failed: {proc.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{r['model']:10s} {r['method']:15s} {r['n']:5d} {r['kernel']:7s} {r['seconds']:9.3f} "
            f"{r['entries_per_s']:11.3g} {r['gflops']:8.1f} {r['gflops'] / r['peak_gflops']:8.2f} "
            f"{r['peak_rss_mb']:8.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
