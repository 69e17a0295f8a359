"""neural-tangents' empirical NTK on the same MLP and weights as bench/ntk.py (peer for issue #4).

Runs in its own environment (JAX 0.4.x, which neural-tangents 0.6.5 needs; it cannot share the
project's numpy 2 / TF 2.21 environment):

    python3 -m venv .venv-peers && .venv-peers/bin/pip install -q "jax[cpu]==0.4.23" jaxlib==0.4.23 \
        neural-tangents==0.6.5 "numpy<2" "scipy<1.13"
    (structured derivatives fail on jax 0.4.30: jax.interpreters.ad.source_info_util is gone)
    .venv/bin/python bench/ntk.py --export_weights /tmp/mlp.npz
    .venv-peers/bin/python bench/ntk_peers.py /tmp/mlp.npz [--sizes 128,512]

For each size and kernel kind it times every neural-tangents implementation (1 Jacobian
contraction, 2 NTK-vector products, 3 structured derivatives; compiled with jit, median of 3
after a warm-up) and prints seconds and peak RSS of a child process per measurement.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def child(weights_path: str, n: int, traced: bool, implementation: int) -> dict:
    import jax
    import jax.numpy as jnp
    import neural_tangents as nt
    import numpy as np

    weights = dict(np.load(weights_path))
    params = [(jnp.asarray(weights[f"w{i}"]), jnp.asarray(weights[f"b{i}"])) for i in range(len(weights) // 2)]

    def apply(params, x):
        h = x.reshape(x.shape[0], -1)
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        return h

    fn = nt.empirical_ntk_fn(apply, trace_axes=(-1,) if traced else (), vmap_axes=0, implementation=implementation)
    fn = jax.jit(fn)
    x = jnp.asarray(np.random.default_rng(0).random((n, 28, 28, 1), dtype=np.float32))
    fn(x, None, params).block_until_ready()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fn(x, None, params).block_until_ready()
        times.append(time.perf_counter() - start)
    return {
        "n": n,
        "kernel": "traced" if traced else "full",
        "implementation": implementation,
        "seconds": statistics.median(times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights")
    parser.add_argument("--sizes", default="128,512")
    parser.add_argument("--implementations", default="1,2,3", help="neural-tangents implementations to time")
    parser.add_argument("--child", default="")
    args = parser.parse_args()
    if args.child:
        n, kind, impl = args.child.split(":")
        print(json.dumps(child(args.weights, int(n), kind == "traced", int(impl))))
        return
    print(f"{'N':>5s} {'kernel':7s} {'implementation':>15s} {'seconds':>9s} {'peak MB':>8s}", flush=True)
    for n in map(int, args.sizes.split(",")):
        for kind in ("full", "traced"):
            for impl in map(int, args.implementations.split(",")):
                proc = subprocess.run(
                    [sys.executable, __file__, args.weights, "--child", f"{n}:{kind}:{impl}"],
                    capture_output=True,
                    text=True,
                )
                if proc.returncode != 0:
                    reason = (proc.stderr.strip().splitlines() or ["killed"])[-1][:60]
                    print(f"{n:5d} {kind:7s} {impl:15d} failed: {reason}", flush=True)
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"{n:5d} {kind:7s} {impl:15d} {r['seconds']:9.3f} {r['peak_rss_mb']:8.0f}", flush=True)


if __name__ == "__main__":
    main()
