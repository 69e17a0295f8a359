"""Synthetic data: the k-cluster distribution D_binary of the feature-averaging paper (docs/methods.md §C).

k cluster centres mu_j are orthogonal with ||mu_j|| = sqrt(d) (scaled rows of a random orthogonal
matrix); clusters 0..k/2-1 form J+ by default. A point of cluster j is x = mu_j + xi with
xi ~ N(0, sigma^2 I_d); its binary label is y = +1 iff j in J+, its fine label is j itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class ClusterData:
    """Points of D_binary with both label granularities.

    Attributes:
      x: float32 (n, d) inputs.
      cluster: int64 (n,) cluster index j in [0, k).
      y: int64 (n,) binary label in {0, 1} (1 = J+); the paper's +-1 label is 2y - 1.
      centres: float32 (k, d) orthogonal centres, norm sqrt(d) each.
      positive: sorted cluster indices of J+.
    """

    x: np.ndarray
    cluster: np.ndarray
    y: np.ndarray
    centres: np.ndarray
    positive: tuple[int, ...]

    @property
    def k(self) -> int:
        return len(self.centres)

    @property
    def d(self) -> int:
        return self.centres.shape[1]

    @property
    def signed_y(self) -> np.ndarray:
        return 2 * self.y - 1


def cluster_centres(k: int, d: int, seed: int, norm: float | None = None) -> np.ndarray:
    """k orthogonal vectors in R^d of norm ``norm`` (default sqrt(d)); float32 (k, d)."""
    if k > d:
        raise ValueError(f"need k <= d for orthogonal centres, got k={k}, d={d}")
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, k)))  # (d, k) orthonormal columns
    return (q.T * (np.sqrt(d) if norm is None else norm)).astype(np.float32)


def sample_clusters(
    centres: np.ndarray, n: int, *, sigma: float, seed: int, positive: Sequence[int] | None = None
) -> ClusterData:
    """n points, as equal a share per cluster as n allows, in a seeded random order."""
    k, d = centres.shape
    positive = tuple(sorted(range(k // 2) if positive is None else positive))
    rng = np.random.default_rng(seed)
    cluster = rng.permutation(np.arange(n) % k).astype(np.int64)  # (n,)
    x = centres[cluster] + sigma * rng.normal(size=(n, d)).astype(np.float32)
    y = np.isin(cluster, positive).astype(np.int64)
    return ClusterData(x.astype(np.float32), cluster, y, centres, positive)


def make_cluster_splits(
    k: int,
    d: int,
    n_train: int,
    n_test: int,
    *,
    sigma: float = 1.0,
    seed: int = 0,
    positive: Sequence[int] | None = None,
) -> tuple[ClusterData, ClusterData]:
    """(train, test) from the same centres with independent noise."""
    centres = cluster_centres(k, d, seed)
    train = sample_clusters(centres, n_train, sigma=sigma, seed=seed + 1, positive=positive)
    test = sample_clusters(centres, n_test, sigma=sigma, seed=seed + 2, positive=positive)
    return train, test
