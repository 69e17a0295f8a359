"""Gradient descent on the squared loss of the toy linear model (robust-before-non-robust Sec. 5).

Minimises (1 / 2n) ||A w - y||^2 from w_0 = 0 with w <- w - (eta / n) A^T (A w - y), using the
three-non-zeros-per-row structure of A (:class:`robust_keras.data.toy_linear.ToySample`): one
step costs O(n), not O(n d). Only the noise coordinates that occur in the training set ever
move, so the weights are kept as (w1, w2, w_noise over those coordinates).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from robust_keras.data.toy_linear import ToySample


@dataclasses.dataclass
class ToyWeights:
    """w restricted to its non-zero coordinates: w1 (robust), w2 (non-robust), w over
    ``noise_coords`` (sorted 0-based indices); every other coordinate is 0."""

    w1: float
    w2: float
    noise_coords: np.ndarray
    noise: np.ndarray

    def scores(self, data: ToySample) -> np.ndarray:
        """x . w for every point of ``data`` (N,)."""
        pos = np.searchsorted(self.noise_coords, data.noise_index)
        pos = np.minimum(pos, len(self.noise_coords) - 1)
        hit = self.noise_coords[pos] == data.noise_index
        return data.robust * self.w1 + data.nonrobust * self.w2 + np.where(hit, self.noise[pos], 0.0)

    def accuracy(self, data: ToySample) -> float:
        """Fraction of points with sign(x . w) == y (a score of exactly 0 counts as wrong)."""
        return float(np.mean(np.sign(self.scores(data)) == data.y))


def gradient_descent(data: ToySample, *, eta: float, steps: int, record_at=()) -> tuple[ToyWeights, dict]:
    """Runs ``steps`` GD steps; returns the final weights and {step: (w1, w2)} at ``record_at``."""
    coords, slot = np.unique(data.noise_index, return_inverse=True)  # slot: (n,) -> position in coords
    w1 = w2 = 0.0
    noise = np.zeros(len(coords))
    alpha = eta / len(data)
    record = set(int(s) for s in record_at)
    trajectory = {0: (0.0, 0.0)} if 0 in record else {}
    for step in range(1, steps + 1):
        residual = data.robust * w1 + data.nonrobust * w2 + noise[slot] - data.y  # (n,)
        w1 -= alpha * float(data.robust @ residual)
        w2 -= alpha * float(data.nonrobust @ residual)
        noise -= alpha * np.bincount(slot, residual, minlength=len(coords))
        if step in record:
            trajectory[step] = (w1, w2)
        if not np.isfinite(w1) or residual @ residual > 1e12 * len(data):  # started at ||y||^2 = n
            raise FloatingPointError(f"GD diverged at step {step}: eta={eta} is above the stability bound")
    return ToyWeights(w1, w2, coords, noise), trajectory


def min_norm_interpolant(data: ToySample) -> ToyWeights:
    """The limit of GD from 0: the minimum-norm least-squares solution A^+ y (= A^T (A A^T)^{-1} y
    while the noise coordinates are distinct; colliding ones are handled exactly), by a dense
    solve over the non-zero columns, (n, 2 + #noise coordinates)."""
    coords, slot = np.unique(data.noise_index, return_inverse=True)
    onehot = (slot[:, None] == np.arange(len(coords))[None, :]).astype(float)  # (n, #coords)
    design = np.concatenate([data.robust[:, None], data.nonrobust[:, None], onehot], axis=1)
    w = np.linalg.lstsq(design, data.y, rcond=None)[0]
    return ToyWeights(float(w[0]), float(w[1]), coords, w[2:])
