"""Feature-averaging diagnostics (docs/methods.md §C): lambda coefficients and neuron x cluster cosines.

Weights are the hidden layer's kernel, float (d, N) with one column per neuron; centres are
float (k, d). Every neuron has a class sign s (+1 or -1): J_s is "its" set of clusters.
Feature averaging: each neuron has comparable lambda on all clusters of J_s and ~0 elsewhere,
so cos(w, mu_j) ~ 1/sqrt(|J_s|) for j in J_s. Feature decoupling: one cluster per neuron.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def lambda_coefficients(kernel: np.ndarray, kernel0: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """lambda_{r,j} = <w_r - w_r(0), mu_j> / ||mu_j||^2; float64 (N, k). Exact for orthogonal centres
    when the noise directions are orthogonal to the centres (the decomposition of the Lemma)."""
    delta = (np.asarray(kernel, np.float64) - kernel0).T  # (N, d)
    c = np.asarray(centres, np.float64)
    return delta @ c.T / np.sum(c * c, axis=1)[None, :]


def cosine_matrix(kernel: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """cos(w_r, mu_j); float64 (N, k), rows = neurons, columns = clusters."""
    w = np.asarray(kernel, np.float64).T  # (N, d)
    c = np.asarray(centres, np.float64)
    return (w @ c.T) / (np.linalg.norm(w, axis=1)[:, None] * np.linalg.norm(c, axis=1)[None, :] + 1e-12)


def summary(
    cos: np.ndarray,
    lam: np.ndarray,
    neuron_signs: Sequence[float],
    positive: Sequence[int],
    one_neuron_per_cluster: bool = False,
) -> dict:
    """Scalar summaries of a (N, k) cosine matrix and lambda matrix.

    Returns:
      same_class_cos: mean cos(w_r, mu_j) over j in J_{s(r)} (averaging: ~1/sqrt(|J_s|)).
      other_class_cos: mean cos(w_r, mu_j) over j not in J_{s(r)} (signed: GD pushes it slightly
        negative; theory: lambda_{-s} <= o(1)).
      diagonal_cos / off_diagonal_cos: with ``one_neuron_per_cluster`` (k-class net), mean
        cos(w_i, mu_i) and mean |cos(w_i, mu_j)|, i != j (decoupling: large / ~0).
      averaging_score: mean over neurons of min_{j in J_s} lambda / max_{j in J_s} lambda, clipped
        to [0, 1]: 1 = equal weight on every own-class cluster, 0 = a single cluster (decoupled).
      top_cluster_share: mean over neurons of max_j cos^2 / sum_j cos^2 over all clusters.
    """
    k = cos.shape[1]
    is_pos = np.isin(np.arange(k), positive)
    own = np.array([is_pos if s > 0 else ~is_pos for s in neuron_signs])  # (N, k)
    lam_own = np.where(own, lam, np.nan)
    ratio = np.nanmin(lam_own, axis=1) / np.maximum(np.nanmax(lam_own, axis=1), 1e-12)
    sq = cos**2
    out = {
        "same_class_cos": float(cos[own].mean()),
        "other_class_cos": float(cos[~own].mean()),
        "averaging_score": float(np.clip(ratio, 0.0, 1.0).mean()),
        "top_cluster_share": float((sq.max(axis=1) / np.maximum(sq.sum(axis=1), 1e-12)).mean()),
    }
    if one_neuron_per_cluster:
        off = ~np.eye(k, dtype=bool)
        out.update(diagonal_cos=float(np.diag(cos).mean()), off_diagonal_cos=float(np.abs(cos[off]).mean()))
    return out


class Monitor:
    """Training callback: every call logs lambda/cosine summaries of the hidden layer's weight
    change and, at the chosen steps, draws the neuron x cluster cosine heatmap.

    Cosines are taken on w - w(0): the Lemma's decomposition puts the learned features there,
    while the random init (||w(0)|| ~ 1) swamps raw cosines for any feasible number of steps.
    """

    def __init__(
        self,
        model,
        centres,
        positive,
        neuron_signs,
        *,
        log,
        plot_path=None,
        heatmap_steps=(),
        one_neuron_per_cluster=False,
        name="",
    ):
        self.kernel = model.get_layer("hidden").kernel
        self.kernel0 = self.kernel.numpy().copy()
        self.centres, self.positive, self.signs = centres, positive, list(neuron_signs)
        self.log, self.plot_path, self.heatmap_steps = log, plot_path, set(heatmap_steps)
        self.one_per_cluster, self.name = one_neuron_per_cluster, name
        self.pngs: list[str] = []

    def matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """(cosine matrix of w - w(0), lambda matrix), each float64 (neurons, k)."""
        kernel = self.kernel.numpy()
        return cosine_matrix(kernel - self.kernel0, self.centres), lambda_coefficients(
            kernel, self.kernel0, self.centres
        )

    def __call__(self, step: int, extra: dict | None = None) -> dict:
        cos, lam = self.matrices()
        metrics = (
            {f"fa/{k}": v for k, v in summary(cos, lam, self.signs, self.positive, self.one_per_cluster).items()}
            if step
            else {}
        )
        metrics.update(extra or {})
        if metrics:
            self.log(metrics, step)
        if self.plot_path and step in self.heatmap_steps:
            from robust_keras.analysis import plots

            raw = cosine_matrix(self.kernel.numpy(), self.centres) if step == 0 else cos
            if self.one_per_cluster:  # the k-class net: neuron i reads out class i, whose cluster is mu_i
                rows, ylabel = [f"{i}" for i in range(len(self.signs))], "hidden neuron i (reads out class i)"
                cols = [f"mu{j}" for j in range(len(self.centres))]
            else:
                rows = [f"{'+' if s > 0 else '-'}{i}" for i, s in enumerate(self.signs)]
                ylabel = "hidden neuron (readout sign)"
                cols = [f"{'+' if j in self.positive else '-'}mu{j}" for j in range(len(self.centres))]
            prefix = f"{self.name}: " if self.name else ""
            title = f"{prefix}cos(w{'' if step == 0 else ' - w0'}, mu_j) at GD step {step}"
            self.pngs.append(
                plots.heatmap(
                    self.plot_path.format(step=step),
                    raw,
                    rows=rows,
                    cols=cols,
                    title=title,
                    xlabel="cluster centre",
                    ylabel=ylabel,
                    vmin=-1.0,
                )
            )
        return metrics
