"""Representation inversion (Ilyas et al. 2019, Sec. 3.1 and App. C; docs/methods.md §D.2).

For a target image x and a start image x_0 (another training image), find an image whose
representation matches x's:

    x_r = argmin_z || g(z) - g(x) ||_2,   z in [0, 1]^d,

by normalised l2 gradient descent from x_0: z <- clip(z - s * grad / ||grad||_2, 0, 1), for a fixed
number of steps of size s (the paper: 1,000 steps of 0.1 on CIFAR-10). ``g`` is a representation,
e.g. the penultimate layer of a model (``models.representation_model``). Each example keeps the
iterate with the lowest distance seen (the start included).

The whole loop is one ``tf.function`` traced once per image shape (batch dimension free), as for
PGD; the distance is unconstrained, so there is no projection beyond the [0, 1] box.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from robust_keras.attacks.steps import L2Step, per_example

RepresentationFn = Callable[[tf.Tensor], tf.Tensor]


class RepresentationInversion:
    """Normalised-gradient descent on ||g(z) - g(x)||_2 from a start image, in the [0, 1] box.

    Args:
      representation_fn: float32 (B, H, W, C) in [0, 1] -> float32 (B, ...) representation.
      steps: gradient steps (the paper: 1,000).
      step_size: l2 length of one step in pixel units of [0, 1] images (the paper: 0.1).
    """

    def __init__(self, representation_fn: RepresentationFn, *, steps: int, step_size: float, jit_compile=False):
        self.representation_fn = representation_fn
        self.steps = int(steps)
        self.step_size = float(step_size)
        self._direction = L2Step(eps=float("inf")).direction
        self._jit_compile = jit_compile
        self._compiled: dict[tuple[int, ...], Callable] = {}

    def __call__(self, targets, starts) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Inverts a batch.

        Args:
          targets: float32 (B, H, W, C) images x whose representation is matched.
          starts: float32 (B, H, W, C) start images x_0.
        Returns:
          x_r float32 (B, H, W, C), its distance ||g(x_r) - g(x)||_2 (B,), and the start's (B,).
        """
        targets = tf.convert_to_tensor(targets, tf.float32)
        key = tuple(targets.shape[1:])
        if key not in self._compiled:
            spec = [tf.TensorSpec([None, *key], tf.float32)] * 2
            self._compiled[key] = tf.function(self._invert, input_signature=spec, jit_compile=self._jit_compile)
        return self._compiled[key](targets, tf.convert_to_tensor(starts, tf.float32))

    def _distance(self, z, goal):
        diff = tf.reshape(tf.cast(self.representation_fn(z), tf.float32) - goal, [tf.shape(z)[0], -1])
        return tf.sqrt(tf.reduce_sum(tf.square(diff), axis=1) + 1e-12)  # (B,); eps keeps the gradient finite

    def _invert(self, targets, starts):
        goal = tf.cast(self.representation_fn(targets), tf.float32)
        z = starts
        start_distance = self._distance(starts, goal)
        best_z, best_distance = starts, start_distance
        for _ in tf.range(self.steps):
            with tf.GradientTape() as tape:
                tape.watch(z)
                distance = self._distance(z, goal)
            grad = tape.gradient(distance, z)
            better = distance < best_distance  # the iterate whose distance was just computed
            best_z = tf.where(per_example(better, z), z, best_z)
            best_distance = tf.minimum(distance, best_distance)
            z = tf.clip_by_value(z - self.step_size * self._direction(grad), 0.0, 1.0)
        distance = self._distance(z, goal)  # the last iterate
        better = distance < best_distance
        best_z = tf.where(per_example(better, z), z, best_z)
        return best_z, tf.minimum(distance, best_distance), start_distance


def start_indices(n: int, seed: int) -> np.ndarray:
    """The start rule of D_R / D_NR: example i starts from training image s_i != i, drawn
    uniformly from the others with a seeded generator (int64 (n,); fixed per (n, seed))."""
    rng = np.random.default_rng(seed)
    offsets = rng.integers(1, n, size=n) if n > 1 else np.zeros(n, np.int64)
    return (np.arange(n) + offsets) % max(n, 1)


def relative_residual(representation_fn: RepresentationFn, targets, starts, inverted, batch_size: int = 500):
    """How well an inversion matched: ||g(x_r) - g(x)||_2 / ||g(x_0) - g(x)||_2 per example, the
    share of the start's distance to x's representation that is left (0: matched exactly, 1: no
    closer than the start). ``targets`` x, ``starts`` x_0, ``inverted`` x_r: float32 (B, H, W, C)
    in [0, 1]. Returns float64 (B,)."""
    out = []
    for lo in range(0, len(targets), batch_size):
        goal, start, found = (
            np.asarray(representation_fn(tf.convert_to_tensor(a[lo : lo + batch_size], tf.float32)), np.float64)
            for a in (targets, starts, inverted)
        )
        goal, start, found = (v.reshape(len(goal), -1) for v in (goal, start, found))
        left, before = np.linalg.norm(found - goal, axis=1), np.linalg.norm(start - goal, axis=1)
        out.append(left / np.maximum(before, 1e-12))
    return np.concatenate(out) if out else np.zeros(0)
