"""PNG plots logged as MLflow artifacts (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from robust_keras.atomic_files import atomic_open  # noqa: E402


def save_figure(fig, path: str) -> str:
    """Lays out, writes and closes a figure; returns its path."""
    fig.tight_layout()
    return write_figure(fig, path)


def write_figure(fig, path: str) -> str:
    """Writes a laid-out figure atomically (format from the extension of ``path``) and closes it."""
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format=os.path.splitext(path)[1].lstrip(".") or "png")
    plt.close(fig)
    return path


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
    cell = 0.55  # inches per cell: the figure hugs the matrix (square cells, no blank margins)
    width = max(cell * len(cols) + 2.6, 5.0)
    fig, ax = plt.subplots(figsize=(width, cell * len(rows) + 2.1), dpi=120)
    diverging = vmin < 0
    im = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap="RdBu_r" if diverging else "viridis")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            value = matrix[i, j]
            dark = abs(value) > 0.6 * max(abs(vmin), vmax) if diverging else value < 0.6 * vmax
            text = f"{value:.2f}"
            ax.text(
                j,
                i,
                "0.00" if text == "-0.00" else text,
                ha="center",
                va="center",
                color="white" if dark else "black",
                fontsize=8,
            )
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title("\n".join(textwrap.wrap(title, int(width * 11))), fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return save_figure(fig, path)


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
    return save_figure(fig, path)


def curve_panels(
    path: str, x: Sequence[float], panels: Mapping[str, Mapping[str, Sequence[float]]], *, title: str, xlabel: str
) -> str:
    """One panel per quantity (its y label is the panel key, e.g. "angle (radians)"), the same
    series names in the same colours across panels, one shared legend; returns path."""
    n = len(panels)
    cols = n if n <= 3 else 2
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.4 * rows + 0.4), dpi=120, squeeze=False)
    colours: dict[str, str] = {}
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (ylabel, series) in zip(axes.flat, panels.items()):
        for name, values in series.items():
            colour = colours.setdefault(name, f"C{len(colours)}")
            ax.plot(x, values, color=colour, marker="o", markersize=3, label=name)
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=c, marker="o", markersize=3) for c in colours.values()]
    fig.legend(handles, list(colours), loc="lower center", ncol=min(len(colours), 4), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.04 + 0.035 * ((len(colours) - 1) // 4), 1, 1))
    return write_figure(fig, path)


def histograms(
    path: str, samples: Mapping[str, np.ndarray], *, title: str, xlabel: str = "value", bins: int = 60
) -> str:
    """Overlaid density histograms of named samples (e.g. kernel entries before/after); returns path."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, values in samples.items():
        ax.hist(np.asarray(values, float), bins=bins, density=True, histtype="step", label=name)
    ax.set(xlabel=xlabel, ylabel="density", yscale="log")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def scatter_panels(
    path: str, panels: Mapping[str, tuple], *, title: str, xlabel: str, ylabel: str, colour_label: str
) -> str:
    """One scatter panel per name (x, y, colour), shared axes limits and one colour bar (e.g.
    eigen-features of several kernels in usefulness x robustness space); returns path."""
    n = len(panels)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols + 1.0, 3.3 * rows + 0.6), dpi=120, squeeze=False)
    everything = [np.asarray(c, float) for _, _, c in panels.values()]
    vmin, vmax = min(c.min() for c in everything), max(c.max() for c in everything)
    points = None
    for ax, (name, (x, y, colour)) in zip(axes.flat, panels.items()):
        points = ax.scatter(x, y, c=colour, cmap="viridis", s=14, vmin=vmin, vmax=vmax)
        ax.set(title=name, xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel, fontsize=8)
    for ax in axes[-1, :]:
        ax.set_xlabel(xlabel, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.colorbar(points, ax=axes.ravel().tolist(), label=colour_label, shrink=0.9)
    return write_figure(fig, path)


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
    ax.plot(ks, accuracy, "o", color="C0", label="GD, mean over training sets")  # no line: k is sampled sparsely
    ax.axhline(robust_level, color="C2", linestyle="--", label="1 - p (robust coordinate)")
    ax.plot(fine_k, nonrobust_level, color="C3", linestyle="--", label="1 - p/k (non-robust coordinate)")
    if np.isfinite(k_t):
        ax.axvline(k_t, color="grey", linestyle=":")
        ax.text(k_t * 1.03, 0.5, f"derived k_t = {k_t:.2f}", fontsize=8, transform=ax.get_xaxis_transform())
    ax.set(title=title, xlabel="k (non-robust coordinate wrong w.p. p/k)", ylabel="population accuracy", xscale="log")
    ax.set_xticks(list(ks), [f"{k:g}" for k in ks], minor=False)
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path)


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
    return save_figure(fig, path)


_FOUR_CURVE_STYLE = {
    "train/accuracy": ("C0", "train (D_det)"),
    "val/accuracy": ("C1", "val (D_det)"),
    "clean/accuracy": ("C3", "D: non-robust features"),
    "shift/accuracy": ("C2", "D_shift: robust features"),
}
PATHWAY_COLOURS = {"1": "#dbe9f6", "2": "#fde3cc", "between": "#ececec"}


def smooth(values: Sequence[float], window: int = 5) -> np.ndarray:
    """Centred moving average (window shrinks at the ends); the Fig. 1 correlation is smoothed."""
    values = np.asarray(values, float)
    half = window // 2
    return np.array([values[max(0, i - half) : i + half + 1].mean() for i in range(len(values))])


def curves_with_correlation(path: str, series, correlation=(), *, chance: float, title: str) -> str:
    """The four D_det curves (accuracy, left axis) and, if given, the performance correlation
    x 100, smoothed (bits, right axis), over epochs, as in the paper's Fig. 1; legend below."""
    fig, ax = plt.subplots(figsize=(6.5, 4.8), dpi=120)
    for name, values in series.items():
        colour, label = _FOUR_CURVE_STYLE.get(name, (None, name))
        ax.plot(np.arange(1, len(values) + 1), values, color=colour, marker="o", markersize=3, label=label)
    ax.axhline(chance, color="grey", linestyle=":", label="chance")
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
    ax.set_title(title, fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if len(correlation):
        right = ax.twinx()
        line = right.plot(
            np.arange(1, len(correlation) + 1),
            100 * smooth(correlation),
            color="k",
            linestyle="--",
            label="perf. corr.",
        )
        right.set_ylabel("performance correlation x 100 (bits, smoothed)")
        handles, labels = handles + line, labels + ["performance correlation x 100"]
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return write_figure(fig, path)


def pathway_grid(path: str, recipes: Sequence[Mapping], *, chance: float, title: str) -> str:
    """App. C: one small four-curve panel per recipe (rows: learning rate x augmentation,
    columns: L2), seeds as a min-max band around their mean, panel coloured by pathway label.

    ``recipes``: dicts with ``cell`` (learning_rate, weight_decay, augment), ``curves``
    {name: (epochs, seeds) array} and ``verdict`` (label, score).
    """
    row_keys = sorted({(r["cell"].augment, r["cell"].learning_rate) for r in recipes})
    col_keys = sorted({r["cell"].weight_decay for r in recipes})
    fig, axes = plt.subplots(
        len(row_keys),
        len(col_keys),
        figsize=(max(7.0, 3.2 * len(col_keys) + 0.6), 2.6 * len(row_keys) + 1.0),  # room for the legend
        dpi=120,
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    for ax in axes.flat:
        ax.axis("off")
    for r in recipes:
        c, verdict = r["cell"], r["verdict"]
        ax = axes[row_keys.index((c.augment, c.learning_rate))][col_keys.index(c.weight_decay)]
        ax.axis("on")
        ax.set_facecolor(PATHWAY_COLOURS[verdict.label])
        for name, (colour, label) in _FOUR_CURVE_STYLE.items():
            values = r["curves"].get(name)
            if values is None:
                continue
            epochs = np.arange(1, values.shape[0] + 1)
            ax.plot(epochs, values.mean(axis=1), color=colour, label=label)
            if values.shape[1] > 1:
                ax.fill_between(epochs, values.min(axis=1), values.max(axis=1), color=colour, alpha=0.25, lw=0)
        ax.axhline(chance, color="grey", linestyle=":", lw=0.8)
        ax.set_title(
            f"lr {c.learning_rate:g}, L2 {c.weight_decay:g}, aug {'yes' if c.augment else 'no'}\n"
            f"pathway {verdict.label} (score {verdict.score:.2f})",
            fontsize=8,
        )
        ax.set_ylim(0, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("epoch", fontsize=8)
    for row in axes:
        row[0].set_ylabel("accuracy", fontsize=8)
    handles = [plt.Line2D([], [], color=colour, label=label) for colour, label in _FOUR_CURVE_STYLE.values()]
    handles += [Patch(color=c, label=f"pathway {k}") for k, c in PATHWAY_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.55 / fig.get_figheight(), 1, 1))  # ~0.55 inch for the legend rows
    return write_figure(fig, path)


def side_by_side_curves(path: str, panels: Mapping[str, Mapping[str, Sequence[float]]], *, chance, title) -> str:
    """One four-curve panel per model (same accuracy axis), e.g. Fig. 2's models trained on the
    examples that transfer and on those that do not."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), dpi=120, sharey=True, squeeze=False)
    for ax, (name, series) in zip(axes[0], panels.items(), strict=True):
        for curve, values in series.items():
            colour, label = _FOUR_CURVE_STYLE.get(curve, (None, curve))
            ax.plot(np.arange(1, len(values) + 1), values, color=colour, marker="o", markersize=3, label=label)
        ax.axhline(chance, color="grey", linestyle=":", label="chance")
        ax.set(title=name, xlabel="epoch", ylim=(0, 1.02))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy")
    axes[0][-1].legend(loc="best", fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def clean_pathways(path: str, panels: Mapping[str, Mapping[str, Sequence[float]]], *, title: str) -> str:
    """Fig. 4: per followed model M1, train / val accuracy, targeted attack success on M1 and the
    transfer rate of those examples to each reference model M2, over epochs."""
    style = {
        "train/accuracy": ("C0", "-", "train accuracy"),
        "val/accuracy": ("C1", "-", "val accuracy"),
        "adv/attack_success": ("k", "--", "targeted attack success on M1"),
        "adv/transfer_m2_1": ("C2", "--", "transfer to M2(1)"),
        "adv/transfer_m2_2": ("C3", "--", "transfer to M2(2)"),
    }
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), dpi=120, sharey=True, squeeze=False)
    for ax, (name, series) in zip(axes[0], panels.items(), strict=True):
        for curve, values in series.items():
            colour, line, label = style[curve]
            ax.plot(np.arange(1, len(values) + 1), values, color=colour, linestyle=line, marker="o", ms=3, label=label)
        ax.set(title=name, xlabel="epoch", ylim=(0, 1.02))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy / fraction of attacked examples")
    axes[0][-1].legend(loc="best", fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
