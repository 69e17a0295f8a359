"""Baselines the throughput benchmarks compare against, measured in the same run: the model's own
compiled forward + backward pass, to the input (what one attack step must compute) and to the
parameters (what one training step must compute), and a median-of-repeats timer."""

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
