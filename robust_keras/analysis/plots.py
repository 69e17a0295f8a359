"""PNG plots logged as MLflow artifacts (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path: str) -> str:
    """Lays out, writes and closes a figure; returns its path."""
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def curves(
    path: str,
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str = "epoch",
    ylabel: str = "accuracy",
    chance: float | None = None,
) -> str:
    """Line plot of named series over epochs 1..n (e.g. the four D_det curves); returns path."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle=":", label="chance")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def heatmap(
    path: str,
    matrix: np.ndarray,
    *,
    rows: Sequence[str],
    cols: Sequence[str],
    title: str,
    xlabel: str,
    ylabel: str,
    vmin: float = 0.0,
    vmax: float | None = 1.0,
) -> str:
    """Annotated heatmap of a (rows x cols) matrix with values in [vmin, vmax] (vmax None: the
    matrix maximum); returns path."""
    matrix = np.asarray(matrix, float)
    vmax = float(np.max(matrix)) or 1.0 if vmax is None else vmax
    fig, ax = plt.subplots(figsize=(0.8 * len(cols) + 3, 0.5 * len(rows) + 2), dpi=120)
    im = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap="viridis" if vmin >= 0 else "RdBu_r")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(
                j,
                i,
                f"{matrix[i, j]:.2f}",
                ha="center",
                va="center",
                color="white" if vmin >= 0 and matrix[i, j] < 0.6 * vmax else "black",
                fontsize=9,
            )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path)


def image_grid(path: str, clean: np.ndarray, adversarial: np.ndarray, titles: Sequence[str]) -> str:
    """Two rows of images in [0, 1] (clean above, adversarial below) with per-column titles."""
    n = len(clean)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3), dpi=120, squeeze=False)
    for j in range(n):
        for i, img in enumerate((clean[j], adversarial[j])):
            ax = axes[i][j]
            ax.imshow(np.clip(img.squeeze(), 0, 1), cmap="gray" if img.shape[-1] == 1 else None, vmin=0, vmax=1)
            ax.axis("off")
        axes[0][j].set_title(titles[j], fontsize=7)
    return _save(fig, path)


def curves_vs(
    path: str,
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    markers: Mapping[str, float] | None = None,
    ylim: tuple[float, float] | None = (-0.02, 1.08),
) -> str:
    """Several curves over a shared x axis (dashed for names containing 'analytic'), with
    labelled vertical markers (e.g. theory radii); returns path."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    colours = {}
    for name, values in series.items():
        base = name.split(" (")[0]
        colour = colours.setdefault(base, f"C{len(colours)}")
        ax.plot(
            x, values, color=colour, linestyle="--" if "analytic" in name else "-", marker="o", markersize=3, label=name
        )
    for label, value in (markers or {}).items():
        ax.axvline(value, color="grey", linestyle=":")
        ax.text(value, 1.0, label, ha="center", va="bottom", fontsize=8, transform=ax.get_xaxis_transform())
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=7)
    return _save(fig, path)


def histograms(path: str, samples: Mapping[str, np.ndarray], *, title: str, bins: int = 60) -> str:
    """Overlaid density histograms of named samples (e.g. kernel entries before/after); returns path."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, values in samples.items():
        ax.hist(np.asarray(values, float), bins=bins, density=True, histtype="step", label=name)
    ax.set(title=title, xlabel="value", ylabel="density", yscale="log")
    ax.legend(fontsize=7)
    return _save(fig, path)


def scatter(path: str, x, y, colour, *, title: str, xlabel: str, ylabel: str, colour_label: str) -> str:
    """Scatter plot with a colour bar (e.g. eigen-features by index); returns path."""
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    points = ax.scatter(x, y, c=colour, cmap="viridis", s=18)
    fig.colorbar(points, ax=ax, label=colour_label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def toy_accuracy_vs_k(
    path: str, *, ks, accuracy, per_seed, fine_k, robust_level, nonrobust_level, k_t: float, title: str
) -> str:
    """Population accuracy of the GD solution vs k (mean line, one dot per training set) against
    the two levels 1 - p (robust coordinate) and 1 - p/k (non-robust), with the derived k_t marked."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2), dpi=120)
    for i, k in enumerate(ks):
        ax.scatter(
            [k] * len(per_seed[k]),
            per_seed[k],
            s=12,
            color="C0",
            alpha=0.4,
            label="one training set" if i == 0 else None,
        )
    ax.plot(ks, accuracy, marker="o", color="C0", label="GD, mean over training sets")
    ax.axhline(robust_level, color="C2", linestyle="--", label="1 - p (robust coordinate)")
    ax.plot(fine_k, nonrobust_level, color="C3", linestyle="--", label="1 - p/k (non-robust coordinate)")
    if np.isfinite(k_t):
        ax.axvline(k_t, color="grey", linestyle=":")
        ax.text(k_t * 1.03, 0.03, f"derived k_t = {k_t:.2f}", fontsize=8, transform=ax.get_xaxis_transform())
    ax.set(title=title, xlabel="k (non-robust coordinate wrong w.p. p/k)", ylabel="population accuracy", xscale="log")
    ax.set_xticks(list(ks), [f"{k:g}" for k in ks], minor=False)
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def toy_weights(path: str, trajectories: Mapping[str, Mapping[int, tuple[float, float]]], *, eps: float, title: str):
    """One panel per k: w1 (robust) and eps * w2 (non-robust contribution to the score) over GD steps."""
    fig, axes = plt.subplots(1, len(trajectories), figsize=(5.5 * len(trajectories), 4), dpi=120, squeeze=False)
    for ax, (name, traj) in zip(axes[0], trajectories.items(), strict=True):
        steps = sorted(s for s in traj if s > 0)
        ax.plot(steps, [traj[s][0] for s in steps], color="C2", label="w1 (robust)")
        ax.plot(steps, [eps * traj[s][1] for s in steps], color="C3", label="eps * w2 (non-robust)")
        ax.set(title=name, xlabel="GD step", ylabel="weight on the score x . w", xscale="log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)
