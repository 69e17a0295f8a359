"""Closed forms for the toy linear model of robust-before-non-robust Sec. 5 / App. A.

Derivation (docs/methods.md §A.7 has it in full). Write the design matrix as A = [s, r, N]
with s = first coordinates (+-1), r = second coordinates (+-eps) and N the one-hot noise block.
While the n noise coordinates are distinct, N N^T = I, so A A^T = I + U U^T with U = [s, r].
Gradient descent on (1/2n)||Aw - y||^2 from w_0 = 0 converges (for small enough eta) to the
minimum-norm interpolant w_inf = A^T (A A^T)^{-1} y, whose first two coordinates are, by the
Woodbury identity,

    (w1, w2) = (I_2 + G)^{-1} (s.y, r.y),      G = U^T U = [[n, c], [c, n eps^2]],  c = s.r.

With u = 1 - 2p, v = 1 - 2p/k and their expectations s.y = n u, r.y = n eps v, c = n eps u v,

    w1 = n u (1 + m (1 - v^2)) / D,     w2 = n eps v (1 + n (1 - u^2)) / D,     m = n eps^2.

A fresh point has an unseen noise coordinate, so its score is y1 w1 + eps y2 w2: it follows the
non-robust coordinate (population accuracy 1 - p/k) iff eps * w2 > w1, else the robust one
(1 - p). (The paper compares w2 with w1; the score compares eps * w2.) Dividing by n u:

    Q(v) = m u v^2 + (m (1 - u^2) + eps^2) v - u (1 + m) > 0,

a quadratic with Q(u) = u (eps^2 - 1) < 0, so exactly one root v* > u, and since v = 1 - 2p/k
increases with k, the threshold is k_t = 2p / (1 - v*) (infinite when v* >= 1: the robust
coordinate then wins for every k). Note k_t depends on n through m = n eps^2: for n -> inf at fixed
eps the non-robust coordinate wins for every k > 1.

First step (Theorem 1): w_1 = (eta/n) A^T y, so (w1, w2) = eta (u, eps v); the score follows
the robust coordinate iff w1 >= eps * w2, i.e. eps^2 <= u / v. The paper states the weight
comparison eps <= u / v, which is sufficient (eps < 1) but not necessary.

Step size: GD converges iff eta < 2 n / lambda_max(A A^T), lambda_max = 1 + lambda_max(G) =
1 + n ((1 + eps^2) + sqrt((1 - eps^2)^2 + 4 eps^2 u^2 v^2)) / 2, i.e. about
eta < 2 / (1 + eps^2 u^2 v^2 + 1/n) (the paper's bound, with beta = u v).
"""

from __future__ import annotations

import math


def _uv(p: float, k: float) -> tuple[float, float]:
    return 1.0 - 2.0 * p, 1.0 - 2.0 * p / k


def nonrobust_wins(n: int, p: float, k: float, eps: float) -> bool:
    """True if the expected min-norm interpolant follows the non-robust coordinate (Q(v) > 0)."""
    u, v = _uv(p, k)
    m = n * eps**2
    return m * u * v**2 + (m * (1 - u**2) + eps**2) * v - u * (1 + m) > 0


def k_threshold(n: int, p: float, eps: float) -> float:
    """k_t: population accuracy -> 1 - p/k for k > k_t, 1 - p for k < k_t (inf if never)."""
    u = 1.0 - 2.0 * p
    m = n * eps**2
    a, b, c = m * u, m * (1 - u**2) + eps**2, -u * (1 + m)
    v_star = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    return math.inf if v_star >= 1.0 else 2.0 * p / (1.0 - v_star)


def first_step_robust(p: float, k: float, eps: float) -> bool:
    """Theorem 1, exact form: after one GD step from 0 the robust coordinate decides (eps^2 <= u/v)."""
    u, v = _uv(p, k)
    return eps**2 <= u / v


def first_step_paper_bound(p: float, k: float) -> float:
    """The paper's (sufficient) Theorem-1 bound on eps: (1 - 2p) / (1 - 2p/k)."""
    u, v = _uv(p, k)
    return u / v


def limit_weights(n: int, p: float, k: float, eps: float) -> tuple[float, float]:
    """Expected (w1, w2) of the min-norm interpolant (see the module docstring)."""
    u, v = _uv(p, k)
    m = n * eps**2
    det = (1 + n) * (1 + m) - (n * eps * u * v) ** 2
    return n * u * (1 + m * (1 - v**2)) / det, n * eps * v * (1 + n * (1 - u**2)) / det


def eta_bound(n: int, p: float, k: float, eps: float) -> float:
    """Largest GD step eta for which GD on (1/2n)||Aw - y||^2 converges (expected Gram matrix)."""
    u, v = _uv(p, k)
    lam_g = n * ((1 + eps**2) + math.sqrt((1 - eps**2) ** 2 + 4 * eps**2 * (u * v) ** 2)) / 2
    return 2.0 * n / (1.0 + lam_g)


def population_accuracy(p: float, k: float, nonrobust: bool) -> float:
    """1 - p/k if the model follows the non-robust coordinate, else 1 - p."""
    return 1.0 - p / k if nonrobust else 1.0 - p
