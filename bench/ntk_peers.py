"""neural-tangents' empirical NTK on the same models and weights as bench/ntk.py (peers for issue #4).

Runs in its own environment: neural-tangents 0.6.5 needs jax 0.4.x (its structured derivatives fail
on jax 0.4.30: `jax.interpreters.ad.source_info_util` is gone), hence numpy < 2; its TF wrapper also
needs TensorFlow and tf2jax there. TF 2.21 and Keras 3 install fine next to numpy 1.26:

    python3 -m venv .venv-peers && .venv-peers/bin/pip install -q "jax[cpu]==0.4.23" jaxlib==0.4.23 \
        neural-tangents==0.6.5 "numpy<2" "scipy<1.13" tensorflow-cpu==2.21.0 keras==3.15.1 tf2jax==0.3.6
    .venv/bin/python bench/ntk.py --export_weights /tmp/ntk_weights.npz
    .venv-peers/bin/python bench/ntk_peers.py /tmp/ntk_weights.npz [--sizes 128,512,1024]

Peers, on the MLP 784-512-512-10 and the App. E MNIST CNN (Keras models built by bench/ntk.py with
the exported weights):
  jax  ``nt.empirical_ntk_fn`` on hand-written JAX forward passes of the same models (jit),
       implementations 1 Jacobian contraction, 2 NTK-vector products, 3 structured derivatives.
  tf   ``nt.experimental.empirical_ntk_fn_tf`` on the Keras model itself, wrapped in a tf.Module
       with ``input_shape`` (the wrapper rejects bare Keras 3 models) and tf2jax's strict shape
       check off (it traces the model at batch 1 under vmap).
Before timing, each peer's kernel on the 6 check inputs of the export is compared with robust_keras'
(printed as the max relative error), so both sides compute the same kernel. Seconds are the median
of 3 after a warm-up; peak RSS is that of a fresh child process per measurement. neural-tangents
averages traced kernels over outputs (robust_keras sums by default; same cost).
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _jax_apply(name: str):
    import jax

    def dense(params, h):
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        return h

    def mlp(params, x):
        return dense(params, x.reshape(x.shape[0], -1))

    def cnn(params, x):
        h = (x - 0.13) / 0.31  # bench/ntk.py builds the CNN with mean 0.13, std 0.31
        for w, b in params[:2]:
            h = jax.lax.conv_general_dilated(h, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
            h = jax.nn.relu(h + b)
            n, hh, ww, c = h.shape
            h = h.reshape(n, hh // 2, 2, ww // 2, 2, c).mean(axis=(2, 4))  # 2x2 average pooling
        return dense(params[2:], h.reshape(h.shape[0], -1))

    return {"mlp": mlp, "cnn_mnist": cnn}[name]


def _kernel_fn(name: str, weights, traced: bool, implementation: int, wrapper: str):
    """(fn(x) -> kernel, params) for one peer."""
    import jax
    import jax.numpy as jnp
    import neural_tangents as nt

    arrays = [weights[f"{name}:{i}"] for i in range(int(weights[f"{name}:count"]))]
    trace_axes = (-1,) if traced else ()
    if wrapper == "jax":
        params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in zip(arrays[::2], arrays[1::2])]
        fn = jax.jit(
            nt.empirical_ntk_fn(_jax_apply(name), trace_axes=trace_axes, vmap_axes=0, implementation=implementation)
        )
        return lambda x: fn(jnp.asarray(x), None, params).block_until_ready()
    import tensorflow as tf
    import tf2jax
    from neural_tangents.experimental.empirical_tf.empirical import get_apply_fn_and_params

    from bench.ntk import _models

    tf2jax.update_config("strict_shape_check", False)
    model = _models()[name]()
    model.set_weights(arrays)

    class Wrapped(tf.Module):
        def __init__(self, keras_model):
            super().__init__()
            self.keras_model = keras_model
            self.input_shape = (None, 28, 28, 1)

        @tf.function
        def __call__(self, x):
            return self.keras_model(x, training=False)

    module = Wrapped(model)
    _, params = get_apply_fn_and_params(module)
    fn = nt.experimental.empirical_ntk_fn_tf(module, trace_axes=trace_axes, vmap_axes=0, implementation=implementation)
    return lambda x: fn(tf.constant(x), None, params).numpy()


def child(weights_path: str, name: str, n: int, traced: bool, implementation: int, wrapper: str) -> dict:
    import numpy as np

    weights = dict(np.load(weights_path))
    fn = _kernel_fn(name, weights, traced, implementation, wrapper)
    check = np.asarray(fn(weights["check_x"]), np.float64)
    ref = weights[f"{name}:check_full"]  # robust_keras, (6, 6, 10, 10)
    ref = np.trace(ref, axis1=2, axis2=3) / ref.shape[-1] if traced else ref
    error = float(np.abs(check - ref).max() / np.abs(ref).max())
    x = np.random.default_rng(0).random((n, 28, 28, 1), dtype=np.float32)  # as bench/ntk.py
    fn(x)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return {
        "model": name,
        "n": n,
        "kernel": "traced" if traced else "full",
        "peer": f"{wrapper}:{implementation}",
        "seconds": statistics.median(times),
        "check_error": error,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights")
    parser.add_argument("--sizes", default="128,512,1024")
    parser.add_argument("--models", default="mlp,cnn_mnist")
    parser.add_argument("--peers", default="jax:3,tf:3", help="wrapper:implementation pairs to time")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    parser.add_argument("--child", default="")
    args = parser.parse_args()
    if args.child:
        name, n, kind, peer = args.child.split("/")
        wrapper, impl = peer.split(":")
        print(json.dumps(child(args.weights, name, int(n), kind == "traced", int(impl), wrapper)))
        return
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    print(f"{'model':10s} {'N':>5s} {'kernel':7s} {'peer':>6s} {'seconds':>9s} {'check err':>10s} {'peak MB':>8s}")
    for name in args.models.split(","):
        for n in map(int, args.sizes.split(",")):
            for kind in ("full", "traced"):
                for peer in args.peers.split(","):
                    cmd = [sys.executable, __file__, args.weights, "--child", f"{name}/{n}/{kind}/{peer}"]
                    try:
                        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
                    except subprocess.TimeoutExpired:
                        print(f"{name:10s} {n:5d} {kind:7s} {peer:>6s} stopped after {args.timeout:.0f} s", flush=True)
                        continue
                    if proc.returncode != 0:
                        reason = (proc.stderr.strip().splitlines() or ["killed"])[-1][:70]
                        print(f"{name:10s} {n:5d} {kind:7s} {peer:>6s} failed: {reason}", flush=True)
                        continue
                    r = json.loads(proc.stdout.strip().splitlines()[-1])
                    print(
                        f"{name:10s} {n:5d} {kind:7s} {peer:>6s} {r['seconds']:9.3f} {r['check_error']:10.1e} "
                        f"{r['peak_rss_mb']:8.0f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
