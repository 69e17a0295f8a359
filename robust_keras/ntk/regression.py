"""Kernel regression with an NTK: the infinitely wide net trained by gradient flow (Eq. 7).

f_t(x) = Theta(x, X) Theta^{-1} (I - exp(-eta Theta t)) Y, with Theta = Theta(X, X) = sum_i lambda_i v_i v_i^T
from a float64 ``eigh`` (lambda descending):
    f_t(x) = sum_i Theta(x, X) v_i * (1 - exp(-eta lambda_i t)) / lambda_i * v_i^T Y.
Tiny eigenvalues: an eigen-direction with lambda_i <= rcond * lambda_max is dropped at t = inf
(pseudo-inverse); at finite t its factor (1 - exp(-eta lambda t)) / lambda tends to eta t, which
is used directly, so no division by ~0 ever happens. Theta^{-1} is never formed.
Kernels here are the traced (N1, N2) kind; Y is (N, O) (one-hot or +-1 targets).
"""

from __future__ import annotations

import numpy as np


class KernelRegression:
    """Spectral solver for Eq. 7 on a training kernel (N, N) and targets Y (N, O)."""

    def __init__(self, theta_train: np.ndarray, targets: np.ndarray, *, eta: float = 1.0, rcond: float = 1e-10):
        theta = np.asarray(theta_train, np.float64)
        lam, vecs = np.linalg.eigh(0.5 * (theta + theta.T))  # ascending
        self.eigenvalues = lam[::-1].copy()  # (N,) descending
        self.eigenvectors = vecs[:, ::-1].copy()  # (N, N), column i <-> eigenvalue i
        self.targets = np.asarray(targets, np.float64).reshape(len(theta), -1)  # (N, O)
        self.eta = eta
        self.rcond = rcond
        self.projections = self.eigenvectors.T @ self.targets  # v_i^T Y, (N, O)

    def spectral_factors(self, t: float = np.inf) -> np.ndarray:
        """(1 - exp(-eta lambda_i t)) / lambda_i for each eigenvalue, (N,); t = inf gives 1/lambda_i."""
        lam = self.eigenvalues
        kept = lam > self.rcond * max(lam[0], 0.0)
        if np.isinf(t):
            return np.where(kept, 1.0 / np.where(kept, lam, 1.0), 0.0)
        small = np.abs(self.eta * lam * t) < 1e-8
        safe = np.where(small, 1.0, lam)
        return np.where(small, self.eta * t, -np.expm1(-self.eta * lam * t) / safe)

    def alpha(self, t: float = np.inf) -> np.ndarray:
        """Dual coefficients alpha = Theta^{-1} (I - exp(-eta Theta t)) Y, (N, O): f_t(x) = Theta(x, X) alpha."""
        return self.eigenvectors @ (self.spectral_factors(t)[:, None] * self.projections)

    def predict(self, theta_test_train: np.ndarray, t: float = np.inf) -> np.ndarray:
        """f_t at new inputs from Theta(x, X) (M, N); returns (M, O)."""
        return np.asarray(theta_test_train, np.float64) @ self.alpha(t)

    def feature(self, theta_test_train: np.ndarray, i: int) -> np.ndarray:
        """Eigen-feature f^(i)(x) = Theta(x, X) v_i v_i^T Y / lambda_i (Eq. 9), (M, O); sum_i f^(i) = f_inf."""
        factor = self.spectral_factors()[i]
        return (np.asarray(theta_test_train, np.float64) @ self.eigenvectors[:, i])[:, None] * (
            factor * self.projections[i]
        )[None, :]

    def feature_direction(self, indices) -> np.ndarray:
        """d (N, O) float32 with sum_{i in indices} f^(i)(x) = Theta(x, X) d (Eq. 9 at t = inf):
        d = sum_i v_i v_i^T Y / lambda_i, what a kernel predictor of those features is bound to."""
        weights = self.spectral_factors()[indices, None] * self.projections[indices]  # (r, O)
        return (self.eigenvectors[:, indices] @ weights).astype(np.float32)


def eigenspace_overlap(a: KernelRegression, b: KernelRegression, k: int) -> float:
    """||V_a^T V_b||_F^2 / k of the top-k eigenvectors of two training kernels on the same inputs:
    1 when they span the same k-space, about k / N for unrelated ones (NTK App. D.2)."""
    cross = a.eigenvectors[:, :k].T @ b.eigenvectors[:, :k]
    return float(np.sum(cross**2) / k)


def correct(outputs, y) -> np.ndarray:
    """bool (N,): whether each prediction is right -- sign(f) against +-1 labels for one output
    (N, 1), argmax against integer labels for K outputs (N, K); a score of exactly 0 is wrong."""
    outputs = np.asarray(outputs)
    return outputs[:, 0] * y > 0 if outputs.shape[-1] == 1 else np.argmax(outputs, -1) == y
