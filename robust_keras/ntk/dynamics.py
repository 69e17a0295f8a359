"""Kernel dynamics during (adversarial) training (NTK paper Sec. 5, App. E; docs/methods.md §B).

Kernels are float64 empirical NTKs of a batch of N inputs: traced over the K outputs, (N, N), or
whole, (N K, N K) with rows ordered (input, output).
  distance       d(K_s, K_t) = 1 - <K_s, K_t>_F / (||K_s||_F ||K_t||_F)           (Eq. 12)
  polar          radius ||K_t - K_0||_F and angle arccos(1 - d(K_0, K_t))         (Eq. 13)
  norm ratio     ||K_t||_F / ||K_0||_F (how much the kernel has grown)
  top space      the same on the projection of each kernel onto its own top-r eigenspace
  concentration  sum_{i <= k} lambda_i^2 / sum_i lambda_i^2
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence

import numpy as np

from robust_keras.atomic_files import atomic_open
from robust_keras.ntk.empirical import empirical_ntk


def kernel_distance(k_s: np.ndarray, k_t: np.ndarray) -> float:
    """Eq. 12: 0 for kernels that differ by a positive scale, up to 1 (2 for opposite signs)."""
    inner = float(np.sum(k_s * k_t))
    return 1.0 - inner / (np.linalg.norm(k_s) * np.linalg.norm(k_t))


def polar(k0: np.ndarray, kt: np.ndarray) -> tuple[float, float]:
    """Eq. 13: (radius, angle in radians) of K_t relative to K_0."""
    return float(np.linalg.norm(kt - k0)), float(np.arccos(np.clip(1.0 - kernel_distance(k0, kt), -1.0, 1.0)))


def top_space(kernel: np.ndarray, r: int) -> np.ndarray:
    """Projection of a symmetric kernel onto its top-r eigenspace: V_r diag(lambda_r) V_r^T."""
    lam, vecs = np.linalg.eigh(0.5 * (kernel + kernel.T))
    lam, vecs = lam[::-1][:r], vecs[:, ::-1][:, :r]
    return (vecs * lam) @ vecs.T


def concentration(kernel: np.ndarray, k: int) -> float:
    """Share of the squared spectrum held by the top-k eigenvalues."""
    lam2 = np.sort(np.linalg.eigvalsh(0.5 * (kernel + kernel.T)))[::-1] ** 2
    return float(lam2[:k].sum() / lam2.sum())


class KernelDynamics:
    """Training callback: every ``every`` epochs, the empirical NTK of a fixed batch and its metrics.

    Call it with (epoch, metrics) from ``training.loop.fit``'s ``on_epoch_end``; ``epoch_zero()``
    records K_0 before training. ``kernels`` keeps every K_t for the distance heatmap.
    With ``state_dir``, each K_t is also written there (``kernel_<epoch>.npy``) and read back by
    a new callback on the same directory, so a resumed run keeps the kernels of earlier epochs.

    Args:
      log: (metrics dict, step) -> None, e.g. ``run.log_metrics``.
      top: r of the top-r eigenspace for the polar dynamics there (paper: 20).
      ks: k values of the concentration metric (paper: 10, 20).
    """

    def __init__(
        self,
        model,
        x_batch,
        *,
        every: int = 1,
        log: Callable[[dict, int], None] | None = None,
        top: int = 20,
        ks: Sequence[int] = (10, 20),
        method: str = "auto",
        chunk_size: int | None = None,
        state_dir: str | None = None,
        inputs: Callable[[int, np.ndarray], np.ndarray] | None = None,
        full: bool = False,
    ):
        """``inputs(epoch, x_batch)``: the inputs the kernel of that epoch is computed on (e.g. the
        batch's adversarial versions against the current model); default ``x_batch`` itself.
        ``full``: the whole (N K, N K) kernel instead of its trace over outputs."""
        self.model, self.x, self.every, self.log = model, np.asarray(x_batch, np.float32), every, log
        self.inputs, self.full = inputs, full
        self.top, self.ks, self.method, self.chunk_size = top, tuple(sorted({*ks, top})), method, chunk_size
        self.epochs: list[int] = []
        self.kernels: list[np.ndarray] = []
        self.history: list[dict] = []  # the metrics of each recorded kernel, in order
        self.state_dir = state_dir
        if state_dir:
            os.makedirs(state_dir, exist_ok=True)
            for name in sorted(glob.glob(os.path.join(state_dir, "kernel_*.npy"))):
                self._record(int(os.path.basename(name)[len("kernel_") : -len(".npy")]), np.load(name))

    def _kernel(self, epoch: int) -> np.ndarray:
        x = self.x if self.inputs is None else np.asarray(self.inputs(epoch, self.x), np.float32)
        trace = None if self.full else "sum"
        kernel = empirical_ntk(
            self.model, x, trace=trace, method=self.method, chunk_size=self.chunk_size, dtype=np.float64
        )
        if self.full:  # (N, N, K, K) -> (N K, N K), rows (input, output)
            n, _, k, _ = kernel.shape
            kernel = kernel.transpose(0, 2, 1, 3).reshape(n * k, n * k)
        return kernel

    def epoch_zero(self) -> dict:
        return self(0, {})

    def __call__(self, epoch: int, metrics: dict) -> dict:
        del metrics
        if epoch % self.every or epoch in self.epochs:
            return {}
        kt = self._kernel(epoch)
        if self.state_dir:  # write-then-rename: a killed run never leaves a partial kernel file
            with atomic_open(os.path.join(self.state_dir, f"kernel_{epoch:06d}.npy"), "wb") as f:
                np.save(f, kt)
        out = self._record(epoch, kt)
        if self.log:
            self.log(out, epoch)
        return out

    def _record(self, epoch: int, kt: np.ndarray) -> dict:
        self.epochs.append(epoch)
        self.kernels.append(kt)
        k0 = self.kernels[0]
        radius, angle = polar(k0, kt)
        top_radius, top_angle = polar(top_space(k0, self.top), top_space(kt, self.top))
        out = {
            "ntk/distance_to_init": kernel_distance(k0, kt),
            "ntk/radius": radius,
            "ntk/angle": angle,
            "ntk/norm_ratio": float(np.linalg.norm(kt) / np.linalg.norm(k0)),
            f"ntk/radius_top{self.top}": top_radius,
            f"ntk/angle_top{self.top}": top_angle,
        }
        out.update({f"ntk/concentration_top{k}": concentration(kt, k) for k in self.ks})
        self.history.append(out)
        return out

    def distance_matrix(self) -> np.ndarray:
        """d(K_s, K_t) for all recorded epochs s, t: (T, T), the paper's heatmap over epochs."""
        return np.array([[kernel_distance(a, b) for b in self.kernels] for a in self.kernels])
