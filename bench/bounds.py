"""Baselines the throughput benchmarks compare against, measured in the same run: the model's own
compiled forward + backward pass, to the input (what one attack step must compute) and to the
parameters (what one training step must compute), and a median-of-repeats timer.

The attack bound is :func:`gradient_loop`: ``steps`` forward + backward passes to the input chained
inside one compiled loop, exactly as an iterative attack runs them, and nothing else. A single
compiled call per pass (``gradient_passes``) also pays a graph launch and a host round trip per
pass, which a compiled attack loop does not, so it understates what the hardware can do: an
attack measured against it can exceed 1.0."""

from __future__ import annotations

import statistics
import time

import tensorflow as tf


def median_seconds(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after one warm-up (tracing) call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gradient_passes(model):
    """(grad_input, grad_params): compiled functions (x, y) -> d loss / d x, d loss / d params of
    the mean sparse cross-entropy of ``model``'s logits."""
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def grad_input(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = loss_fn(y, model(x, training=False))
        return tape.gradient(loss, x)

    @tf.function
    def grad_params(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return tape.gradient(loss, model.trainable_variables)

    return grad_input, grad_params


def gradient_loop(model, steps: int):
    """Compiled (x, y) -> x_steps: ``steps`` chained forward + backward passes to the input, each
    input moved by a tiny multiple of the last gradient (a real dependence, so no pass can be
    skipped or hoisted). The honest bound of an attack of ``steps`` steps: its rate in
    image*steps/s is batch * steps / time."""
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def loop(x, y):
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = loss_fn(y, model(x, training=False))
            x = x + 1e-6 * tape.gradient(loss, x)
        return x

    return loop


def forward_loop(model, passes: int):
    """Compiled x -> x_passes: ``passes`` chained forward passes (no gradients), each input moved by
    a tiny multiple of its logits' mean (a real dependence, so no pass can be skipped). The bound of
    a query-based attack such as Square: one forward per query; its rate in image*queries/s is
    batch * passes / time."""

    @tf.function
    def loop(x):
        for _ in tf.range(passes):
            logits = model(x, training=False)
            x = x + 1e-9 * tf.reshape(tf.reduce_mean(logits, -1), [-1] + [1] * (x.shape.rank - 1))
        return x

    return loop
