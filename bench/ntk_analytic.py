"""Infinite-width NTK + NNGP: robust_keras.ntk.analytic vs neural-tangents' stax (issue #10).

Same architectures, inputs and precision (float32) on both sides, each measurement in a fresh
child process (seconds = median of --repeats runs after a warm-up on a small batch; peak RSS of
that process):
  fc3    Flatten, 3 x (Dense, ReLU), Dense readout on 28x28x1 inputs (784 features)
  conv2  2 x (3x3 SAME Conv, ReLU), Flatten, Dense readout on 16x16x1 inputs
sigma_w^2 = 2, sigma_b = 0.1, readout sigma_w = 1 (``analytic.architecture``), NTK parameterisation.
Each peer's kernels are compared with robust_keras' (max abs difference / max entry, printed),
so both compute the same thing. neural-tangents runs jitted ``kernel_fn(x1, x2, ("nngp", "ntk"))``
through ``nt.batch`` at each batch size of --peer_blocks (the ratio is against its fastest);
robust_keras at its default block size (BLOCK_BYTES), in its own environment (see
bench/ntk_peers.py for the peer environment's install line). Two cases: ``train`` = K(X, X) with x2 None, where
robust_keras computes only the upper block triangle and neural-tangents 0.6.5 every block (its
batching has a TODO for that), so up to 2x of the ratio is that saving; ``cross`` = K(X, X') for
two different input sets, the same work on both sides.

    .venv/bin/python bench/ntk_analytic.py --peer_python .venv-peers/bin/python [--sizes 1000,5000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {"fc3": (28, 28, 1), "conv2": (16, 16, 1)}
W_STD, B_STD = float(np.sqrt(2.0)), 0.1


def inputs(arch: str, n: int, seed: int = 0) -> np.ndarray:
    """Pixel-like inputs in [0, 1], seeded, (n, H, W, C) float32."""
    return np.random.default_rng(seed).uniform(size=(n, *SHAPES[arch])).astype(np.float32)


def _nt_kernel_fn(arch: str, block: int):
    import jax
    import neural_tangents as nt
    from neural_tangents import stax

    body = []
    for _ in range(3 if arch == "fc3" else 2):
        layer = (
            stax.Dense(1, W_std=W_STD, b_std=B_STD)
            if arch == "fc3"
            else stax.Conv(1, (3, 3), padding="SAME", W_std=W_STD, b_std=B_STD)
        )
        body += [layer, stax.Relu()]
    head = [stax.Flatten()] if arch == "fc3" else []
    tail = [stax.Flatten()] if arch == "conv2" else []
    _, _, kernel_fn = stax.serial(*head, *body, *tail, stax.Dense(1, W_std=1.0, b_std=B_STD))
    batched = nt.batch(jax.jit(kernel_fn, static_argnames="get"), batch_size=block, store_on_device=False)

    def run(x1, x2):
        k = batched(x1, x2, ("nngp", "ntk"))
        return np.asarray(k.nngp), np.asarray(k.ntk)

    return run


def _rk_kernel_fn(arch: str, block: int):
    sys.path.insert(0, ROOT)
    from robust_keras.ntk import analytic

    layers = analytic.architecture(arch, w_std=W_STD, b_std=B_STD)
    return lambda x1, x2: analytic.analytic_kernels(layers, x1, x2, block_size=block or None)


def child(side: str, arch: str, case: str, n: int, block: int, repeats: int, out: str) -> None:
    fn = (_nt_kernel_fn if side == "neural_tangents" else _rk_kernel_fn)(arch, block)
    warm = 2 * (block or 500)
    fn(inputs(arch, warm), None)  # warm-up: compiles / traces the block shapes
    fn(inputs(arch, warm), inputs(arch, warm, 1))
    x1, x2 = inputs(arch, n), (None if case == "train" else inputs(arch, n, 1))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        nngp, ntk = fn(x1, x2)
        times.append(time.perf_counter() - start)
    np.savez(out, nngp=nngp, ntk=ntk)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": statistics.median(times), "peak_rss_mb": rss}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer_python", default=os.path.join(ROOT, ".venv-peers", "bin", "python"))
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--archs", default="fc3,conv2")
    parser.add_argument("--block", type=int, default=0, help="child: block size (0 = robust_keras' default)")
    parser.add_argument(
        "--peer_blocks", default="100,500", help="neural-tangents batch sizes to time (empty: robust_keras only)"
    )
    parser.add_argument("--cases", default="train,cross")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median)")
    parser.add_argument("--child", nargs=5, metavar=("SIDE", "ARCH", "CASE", "N", "OUT"))
    args = parser.parse_args()
    if args.child:
        side, arch, case, n, out = args.child
        child(side, arch, case, int(n), args.block, args.repeats, out)
        return
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    print(
        f"{'arch':6} {'case':6} {'N':>5} {'side':20} {'seconds':>9} {'peak RSS MB':>11} "
        f"{'rel err vs rk':>11} {'speed vs best peer':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for arch, case, n in (
            (a, c, int(s)) for a in args.archs.split(",") for s in args.sizes.split(",") for c in args.cases.split(",")
        ):
            runs = [("robust_keras", sys.executable, 0)]
            runs += [("neural_tangents", args.peer_python, int(b)) for b in args.peer_blocks.split(",") if b]
            results = {}
            for side, python, block in runs:
                out = os.path.join(tmp, "kernels.npz")
                cmd = [python, os.path.abspath(__file__), "--block", str(block), "--repeats", str(args.repeats)]
                proc = subprocess.run(
                    cmd + ["--child", side, arch, case, str(n), out], capture_output=True, text=True, env=env
                )
                if proc.returncode != 0:
                    raise SystemExit(f"{side} {arch} {case} N={n} failed:\n{proc.stderr[-2000:]}")
                label = side if not block else f"{side} b={block}"
                results[label] = json.loads(proc.stdout.strip().splitlines()[-1])
                with np.load(out) as f:
                    results[label]["kernels"] = (f["nngp"], f["ntk"])
            ours = results["robust_keras"]
            peers = [r["seconds"] for label, r in results.items() if label != "robust_keras"]
            best_peer = min(peers) if peers else float("nan")  # --peer_blocks= : no peer (the suite's smoke run)
            for label, r in results.items():
                err = max(
                    float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(r["kernels"], ours["kernels"])
                )
                print(
                    f"{arch:6} {case:6} {n:5d} {label:20} {r['seconds']:9.2f} {r['peak_rss_mb']:11.0f} {err:11.1e} "
                    f"{best_peer / r['seconds']:6.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
