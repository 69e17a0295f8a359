"""The toy distribution of robust-before-non-robust Sec. 5 (docs/methods.md §A.7).

A point is x = y1 * e_1 + eps * y2 * e_2 + e_q in R^d with label y = +-1 (balanced), where
y1 = y with probability 1 - p (else -y): the *robust* coordinate, predictive at 1 - p;
y2 = y with probability 1 - p/k (else -y): the *non-robust* coordinate, more predictive but of
size eps, so a perturbation of l-inf size 2 * eps flips it; q uniform in {3..d} (0-based
{2..d-1}): a noise coordinate that lets a linear model interpolate n << d points.

Stored compactly (the matrix A is n x d but has three non-zeros per row).
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ToySample:
    """n points of the toy distribution.

    Attributes:
      y: float64 (n,) labels +-1.
      robust: float64 (n,) first coordinate y1 (+-1).
      nonrobust: float64 (n,) second coordinate eps * y2.
      noise_index: int64 (n,) 0-based index q of the coordinate holding the 1, in [2, d).
      d: input dimension.
    """

    y: np.ndarray
    robust: np.ndarray
    nonrobust: np.ndarray
    noise_index: np.ndarray
    d: int

    def __len__(self) -> int:
        return len(self.y)

    def dense(self) -> np.ndarray:
        """The design matrix A, float64 (n, d) (for checks on small d)."""
        a = np.zeros([len(self.y), self.d])
        a[:, 0], a[:, 1] = self.robust, self.nonrobust
        a[np.arange(len(self.y)), self.noise_index] += 1.0
        return a


def sample(n: int, *, d: int, p: float, k: float, eps: float, rng: np.random.Generator) -> ToySample:
    """n i.i.d. points; requires 0 < p < 1/2, k >= 1, d >= 3."""
    if not (0.0 < p < 0.5 and k >= 1.0 and d >= 3 and eps > 0):
        raise ValueError(f"toy distribution needs 0 < p < 1/2, k >= 1, d >= 3, eps > 0 (got p={p}, k={k}, d={d})")
    y = rng.choice([-1.0, 1.0], size=n)
    y1 = np.where(rng.random(n) < p, -y, y)
    y2 = np.where(rng.random(n) < p / k, -y, y)
    q = rng.integers(2, d, size=n)
    return ToySample(y, y1, eps * y2, q.astype(np.int64), d)
