"""Performance correlation (Nakkiran et al. 2019, multi-class as in robust-before-non-robust Sec. 4.3).

    mu_Y(F; L) = I(F; Y) - I(F; Y | L)                                   [bits]

with plug-in entropies of the empirical joint distribution of three label arrays on the same
examples: F (predictions of the network), L (predictions of a simple model, e.g. a multinomial
logistic regression) and Y (true labels). Expanded into joint entropies (docs/methods.md §A.5):

    I(F; Y)     = H(F) + H(Y) - H(F, Y)
    I(F; Y | L) = H(F, L) + H(L, Y) - H(F, L, Y) - H(L)

mu is symmetric in F and L (it is the co-information of F, L, Y), equals I(F; Y) when L = F,
and is 0 when L is constant. It can be negative (synergy).
"""

from __future__ import annotations

import numpy as np


def _entropy_bits(*columns: np.ndarray) -> float:
    """Plug-in Shannon entropy (bits) of the joint distribution of integer ``columns`` (each (N,))."""
    joint = np.stack([np.asarray(c, np.int64) for c in columns], axis=1)  # (N, len(columns))
    _, counts = np.unique(joint, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(A; B) in bits from paired integer labels (N,)."""
    return _entropy_bits(a) + _entropy_bits(b) - _entropy_bits(a, b)


def conditional_mutual_information(a: np.ndarray, b: np.ndarray, given: np.ndarray) -> float:
    """I(A; B | C) in bits from paired integer labels (N,)."""
    c = given
    return _entropy_bits(a, c) + _entropy_bits(b, c) - _entropy_bits(a, b, c) - _entropy_bits(c)


def performance_correlation(f: np.ndarray, l: np.ndarray, y: np.ndarray) -> float:  # noqa: E741
    """mu_Y(F; L) = I(F; Y) - I(F; Y | L) in bits; F, L, Y integer labels (N,), N > 0."""
    f, l, y = (np.asarray(v, np.int64).ravel() for v in (f, l, y))  # noqa: E741
    if not (len(f) == len(l) == len(y)) or len(f) == 0:
        raise ValueError(f"need three label arrays of one non-zero length, got {len(f)}, {len(l)}, {len(y)}")
    return mutual_information(f, y) - conditional_mutual_information(f, y, l)
