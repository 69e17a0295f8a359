"""The papers' own figure types, in the project's figure style: the toy model's accuracy against
k and its weights (RB Sec. 5), the four D_det curves with the performance correlation (RB Fig. 1),
the pathway grid (App. C), side-by-side four-curve panels (Fig. 2) and the clean-pathways attack
and transfer curves (Fig. 4). Generic plots (heatmaps, curves, panels, histograms, scatter) are in
:mod:`robust_keras.analysis.plots`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from robust_keras.analysis import figure_style as style
from robust_keras.analysis import plots
from robust_keras.analysis.figure_style import plt


def toy_accuracy_vs_k(
    path: str, *, ks, accuracy, per_seed, fine_k, robust_level, nonrobust_level, k_t: float, title: str
) -> str:
    """Population accuracy of the GD solution vs k (mean as a ring, one dot per training set on
    top of it) against the two levels 1 - p (robust coordinate) and 1 - p/k (non-robust), with
    the derived k_t marked above the panel."""
    fig, axes = style.figure(panel=(6.4, 4.0))
    ax = axes[0, 0]
    ax.axhline(robust_level, color="C2", linestyle="--", label="1 - p (robust coordinate)")
    ax.plot(fine_k, nonrobust_level, color="C3", linestyle="--", label="1 - p/k (non-robust coordinate)")
    ax.plot(ks, accuracy, "o", color="C0", markersize=9, markerfacecolor="none", label="GD, mean over training sets")
    for i, k in enumerate(ks):
        ax.scatter([k] * len(per_seed[k]), per_seed[k], s=9, color="C0", label="one training set" if i == 0 else None)
    if np.isfinite(k_t):
        style.x_markers(ax, {f"derived k_t = {k_t:.2f}": k_t})
    ax.set(xlabel="k (non-robust coordinate wrong w.p. p/k)", ylabel="population accuracy", xscale="log")
    ax.set_title(style.title(title, 6.4))
    ax.set_xticks(list(ks), [f"{k:g}" for k in ks], minor=False)
    ax.minorticks_off()
    style.legend_below(fig, ncol=2)
    return plots.write_figure(fig, path)


def toy_weights(path: str, trajectories: Mapping[str, Mapping[int, tuple[float, float]]], *, eps: float, title: str):
    """One panel per k: w1 (robust) and eps * w2 (non-robust contribution to the score) over GD steps."""
    fig, axes = style.figure(1, len(trajectories), panel=(4.8, 3.6))
    for ax, (name, traj) in zip(axes[0], trajectories.items(), strict=True):
        steps = sorted(s for s in traj if s > 0)
        ax.plot(steps, [traj[s][0] for s in steps], color="C2", label="w1 (robust)")
        ax.plot(steps, [eps * traj[s][1] for s in steps], color="C3", linestyle="--", label="eps * w2 (non-robust)")
        ax.set(title=name, xlabel="GD step", ylabel="weight on the score x . w", xscale="log")
    fig.suptitle(style.title(title, 4.8 * len(trajectories), 10))
    style.legend_below(fig)
    return plots.write_figure(fig, path)


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
    x 100 in bits (right axis: each epoch's value, and its 5-epoch centred moving average), over
    epochs, as in the paper's Fig. 1; legend below."""
    fig, axes = style.figure(panel=(6.4, 4.2))
    ax = axes[0, 0]
    for i, (name, values) in enumerate(series.items()):
        colour, label = _FOUR_CURVE_STYLE.get(name, (None, name))
        marker = style.MARKERS[i % len(style.MARKERS)]
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, color=colour, marker=marker, markersize=style.marker_size(i), mfc="none", label=label)
    style.chance_line(ax, chance)
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
    ax.set_title(style.title(title, 6.4))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = ax.get_legend_handles_labels()
    if len(correlation):
        right = ax.twinx()
        right.grid(False)
        epochs = np.arange(1, len(correlation) + 1)
        raw = right.plot(epochs, 100 * np.asarray(correlation), color="k", alpha=0.35, linewidth=1)
        smoothed = right.plot(epochs, 100 * smooth(correlation), color="k", linestyle="--")
        right.set_ylabel("performance correlation x 100 (bits)")
        handles += raw + smoothed
        labels += ["performance correlation x 100", "its 5-epoch moving average"]
    style.legend_below(fig, handles=handles, labels=labels)
    return plots.write_figure(fig, path)


def pathway_grid(path: str, recipes: Sequence[Mapping], *, chance: float, title: str) -> str:
    """App. C: one small four-curve panel per recipe (rows: learning rate x augmentation,
    columns: L2), replicates (--grid_seeds) as a min-max band around their mean, panel coloured by pathway label.

    ``recipes``: dicts with ``cell`` (learning_rate, weight_decay, augment), ``curves``
    {name: (epochs, replicates) array} and ``verdict`` (label, score).
    """
    row_keys = sorted({(r["cell"].augment, r["cell"].learning_rate) for r in recipes})
    col_keys = sorted({r["cell"].weight_decay for r in recipes})
    fig, axes = style.figure(len(row_keys), len(col_keys), panel=(3.3, 2.6), sharex=True, sharey=True)
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
        style.chance_line(ax, chance)
        ax.set_title(
            f"lr {c.learning_rate:g}, L2 {c.weight_decay:g}, aug {'yes' if c.augment else 'no'}\n"
            f"pathway {verdict.label} (score {verdict.score:.2f})",
            fontsize=8,
        )
        ax.set_ylim(0, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for row in axes:
        row[0].set_ylabel("accuracy")
    handles = [plt.Line2D([], [], color=colour, label=label) for colour, label in _FOUR_CURVE_STYLE.values()]
    handles += [plt.Line2D([], [], label="chance", **style.CHANCE)]
    handles += [Patch(color=c, label=f"pathway {k}") for k, c in PATHWAY_COLOURS.items()]
    style.legend_below(fig, handles=handles, labels=[h.get_label() for h in handles], ncol=4)
    fig.suptitle(style.title(title, 3.3 * len(col_keys), 10))
    return plots.write_figure(fig, path)


def side_by_side_curves(path: str, panels: Mapping[str, Mapping[str, Sequence[float]]], *, chance, title) -> str:
    """One four-curve panel per model (same accuracy axis), e.g. Fig. 2's models trained on the
    examples that transfer and on those that do not."""
    look = {name: (colour, "-", label) for name, (colour, label) in _FOUR_CURVE_STYLE.items()}
    return _epoch_panels(path, panels, look, title=title, ylabel="accuracy", chance=chance)


def clean_pathways(path: str, panels: Mapping[str, Mapping[str, Sequence[float]]], *, title: str) -> str:
    """Fig. 4: per followed model M1, train / val accuracy, targeted attack success on M1 and the
    transfer rate of those examples to each reference model M2, over epochs."""
    look = {
        "train/accuracy": ("C0", "-", "train accuracy"),
        "val/accuracy": ("C1", "-", "val accuracy"),
        "adv/attack_success": ("k", "--", "targeted attack success on M1"),
        "adv/transfer_m2_1": ("C2", "--", "transfer to M2(1)"),
        "adv/transfer_m2_2": ("C3", "--", "transfer to M2(2)"),
    }
    return _epoch_panels(path, panels, look, title=title, ylabel="accuracy / fraction of attacked examples")


def _epoch_panels(path, panels, look, *, title: str, ylabel: str, chance: float | None = None) -> str:
    """One panel per name of ``panels`` ({curve: per-epoch values}) on one [0, 1] axis, each curve
    drawn as ``look[curve]`` = (colour, line style, legend label); one legend below."""
    fig, axes = style.figure(1, len(panels), panel=(4.8, 3.6), sharey=True)
    for ax, (name, series) in zip(axes[0], panels.items(), strict=True):
        for i, (curve, values) in enumerate(series.items()):
            colour, line, label = look.get(curve, (None, "-", curve))
            ax.plot(
                np.arange(1, len(values) + 1),
                values,
                color=colour,
                linestyle=line,
                marker=style.MARKERS[i % len(style.MARKERS)],
                markersize=style.marker_size(i),
                mfc="none",
                label=label,
            )
        if chance is not None:
            style.chance_line(ax, chance)
        ax.set(title=name, xlabel="epoch", ylim=(0, 1.02))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(style.title(title, 4.8 * len(panels), 10))
    style.legend_below(fig)
    return plots.write_figure(fig, path)
