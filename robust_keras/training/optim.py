"""Optimizers and learning-rate schedules, built from plain values (epochs, steps per epoch)."""

from __future__ import annotations

from collections.abc import Sequence

import keras


def make_schedule(
    kind: str,
    base_lr: float,
    *,
    steps_per_epoch: int,
    epochs: int,
    boundaries: Sequence[float] = (0.5, 0.75),
    decay: float = 0.1,
):
    """Learning rate as a function of the optimizer step.

    Args:
      kind: ``constant``; ``piecewise`` (multiply by ``decay`` at each boundary, given as
        fractions of training); ``cosine`` (from ``base_lr`` to 0 over training).
    """
    total = max(1, steps_per_epoch * epochs)
    if kind == "constant":
        return base_lr
    if kind == "piecewise":
        steps = [max(1, int(round(float(b) * total))) for b in boundaries]
        values = [base_lr * decay**i for i in range(len(steps) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(steps, values)
    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(base_lr, decay_steps=total)
    raise ValueError(f"unknown lr schedule {kind!r}")


def make_optimizer(name: str, learning_rate, *, momentum: float = 0.9, loss_scaling: bool = False):
    """SGD with (heavy-ball) momentum or Adam; wrapped for dynamic loss scaling (mixed_float16: float16
    gradients underflow below ~6e-8; bfloat16 has float32's exponent range and needs none)."""
    if name == "sgd":
        opt = keras.optimizers.SGD(learning_rate, momentum=momentum)
    elif name == "adam":
        opt = keras.optimizers.Adam(learning_rate)
    else:
        raise ValueError(f"unknown optimizer {name!r}")
    return keras.optimizers.LossScaleOptimizer(opt) if loss_scaling else opt
