"""PNG plots logged as MLflow artifacts, in the project's figure style (analysis/figure_style.py:
constrained layout, legends below the panels, chance lines, shared scales where panels compare)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from robust_keras.analysis import figure_style as style
from robust_keras.analysis.figure_style import plt
from robust_keras.atomic_files import atomic_open


def save_figure(fig, path: str) -> str:
    """Lays out (figures made without a layout engine), writes and closes a figure; returns its path."""
    if fig.get_layout_engine() is None:
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
    matrix maximum; figures that are compared pass one range); returns path."""
    matrix = np.asarray(matrix, float)
    vmax = float(np.max(matrix)) or 1.0 if vmax is None else vmax
    cell = 0.55  # inches per cell: the figure hugs the matrix (square cells, no blank margins)
    width = max(cell * len(cols) + 2.8, 5.0)
    fig, axes = style.figure(panel=(width, cell * len(rows) + 1.9))
    ax = axes[0, 0]
    diverging = vmin < 0
    im = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap="RdBu_r" if diverging else "viridis")
    fits = max(len(c) for c in cols) * 0.075 < cell  # about 0.075 inch per character at 8 pt
    ax.set_xticks(range(len(cols)), cols, rotation=0 if fits else 90)
    ax.set_yticks(range(len(rows)), rows)
    ax.grid(False)
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
                gid="cell",  # a value printed on its own cell, not a label
            )
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(style.title(title, width))
    fig.colorbar(im, ax=ax, shrink=0.9)
    return write_figure(fig, path)


def curves_vs(
    path: str,
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    markers: Mapping[str, float] | None = None,
    ylim: tuple[float, float] | None = (0.0, 1.02),
    chance: float | None = None,
    xscale: str = "linear",
) -> str:
    """Several curves over a shared x axis: names sharing the part before " (" share a colour,
    names containing "analytic" are dashed; each series its own marker shape and size, so
    coinciding curves stay visible. ``markers``: labelled vertical reference values (e.g. theory
    radii), labelled above the panel; ``chance``: a chance line; returns path."""
    fig, axes = style.figure(panel=(6.4, 4.0))
    ax = axes[0, 0]
    colours: dict[str, str] = {}
    for i, (name, values) in enumerate(series.items()):
        colour = colours.setdefault(name.split(" (")[0], f"C{len(colours)}")
        ax.plot(
            x,
            values,
            color=colour,
            linestyle="--" if "analytic" in name else "-",
            marker=style.MARKERS[i % len(style.MARKERS)],
            markersize=style.marker_size(i),
            markerfacecolor="none" if i % 2 == 0 else colour,
            label=name,
        )
    if chance is not None:
        style.chance_line(ax, chance)
    style.x_markers(ax, markers or {})
    ax.set(xlabel=xlabel, ylabel=ylabel, xscale=xscale)
    ax.set_title(style.title(title, 6.4))
    if ylim:
        ax.set_ylim(*ylim)
    style.legend_below(fig, ncol=2)
    return write_figure(fig, path)


def curve_panels(
    path: str,
    x: Sequence[float],
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ylim: tuple[float, float] | None = None,
    chance: float | None = None,
) -> str:
    """One panel per quantity (its y label is the panel key, e.g. "angle (radians)"), the same
    series names in the same colours and markers across panels, one legend below. ``ylim`` (e.g.
    (0, 1.02) for accuracies) is shared by every panel, with a ``chance`` line; returns path."""
    n = len(panels)
    cols = n if n <= 3 else 2
    rows = -(-n // cols)
    fig, axes = style.figure(rows, cols, panel=(4.4, 3.2), sharey=ylim is not None)
    styles: dict[str, tuple[str, str, float]] = {}
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (ylabel, series) in zip(axes.flat, panels.items()):
        for name, values in series.items():
            i = len(styles)
            colour, marker, size = styles.setdefault(
                name, (f"C{i}", style.MARKERS[i % len(style.MARKERS)], style.marker_size(i))
            )
            ax.plot(x, values, color=colour, marker=marker, markersize=size, markerfacecolor="none", label=name)
        if chance is not None:
            style.chance_line(ax, chance)
        if ylim:
            ax.set_ylim(*ylim)
        ax.set(xlabel=xlabel, ylabel=ylabel)
    fig.suptitle(style.title(title, 4.4 * cols, 10))
    style.legend_below(fig, ncol=min(len(styles) + (chance is not None), 4))
    return write_figure(fig, path)


def polar_trajectories(path: str, trajectories: Mapping[str, tuple], *, title: str, radius_label: str) -> str:
    """NTK paper Fig. 5 style: each run's kernel as one point per epoch in polar coordinates
    (angle to the initial kernel, and a radius, e.g. ||K_t - K_0||_F of Eq. 13), joined in epoch
    order; ``trajectories``: name -> (epochs, angles in radians, radii); returns path."""
    fig, axes = style.figure(panel=(5.2, 3.6), subplot_kw={"projection": "polar"})
    ax = axes[0, 0]
    largest = 0.0
    for i, (name, (epochs, angles, radii)) in enumerate(trajectories.items()):
        ax.plot(
            angles,
            radii,
            color=f"C{i}",
            marker=style.MARKERS[i],
            markersize=style.marker_size(i),
            markerfacecolor="none",
            label=f"{name} (epochs {epochs[0]}-{epochs[-1]})",
        )
        largest = max(largest, float(np.max(angles)))
    ax.set_thetamin(0)
    ax.set_thetamax(max(5.0, float(np.degrees(largest)) * 1.25))
    ax.set_xlabel(f"angle to K_0 (degrees); radius: {radius_label}")
    ax.set_title(style.title(title, 5.2))
    style.legend_below(fig)
    return write_figure(fig, path)


def histograms(
    path: str, samples: Mapping[str, np.ndarray], *, title: str, xlabel: str = "value", bins: int = 60
) -> str:
    """Overlaid histograms of named samples (e.g. kernel entries before/after training), each bar
    the fraction of that sample's values in the bin. When the samples' scales differ by more than
    10x the x axis is symmetric-log, with bins spaced evenly on it, so a narrow sample is not a
    sliver at 0; returns path."""
    fig, axes = style.figure(panel=(6.0, 3.8))
    ax = axes[0, 0]
    arrays = {name: np.asarray(values, float).ravel() for name, values in samples.items()}
    scales = [float(np.max(np.abs(v))) for v in arrays.values() if v.size]
    edges: int | np.ndarray = bins
    if scales and min(scales) > 0 and max(scales) / min(scales) > 10:
        every = np.concatenate(list(arrays.values()))
        small = float(np.quantile(np.abs(every[every != 0]), 0.02)) if np.any(every != 0) else 1e-12
        big = float(np.max(np.abs(every)))
        side = np.geomspace(small, big * 1.0001, bins // 2)
        edges = np.concatenate([-side[::-1], side]) if np.any(every < 0) else np.concatenate([[0.0], side])
        ax.set_xscale("symlog", linthresh=small)
        decades = np.arange(np.floor(np.log10(small)), np.ceil(np.log10(big)) + 1)
        decades = decades[:: max(1, int(np.ceil(len(decades) / 4)))]  # at most ~4 labelled decades a side
        ticks = [0.0, *(10.0**decades), *((-(10.0**decades)) if np.any(every < 0) else [])]
        ax.set_xticks(sorted(t for t in ticks if t == 0 or abs(t) >= small))
    for i, (name, values) in enumerate(arrays.items()):
        weights = np.full(values.shape, 1.0 / max(values.size, 1))
        ax.hist(values, bins=edges, weights=weights, histtype="step", linewidth=1.6 - 0.3 * i, label=name)
    ax.set(xlabel=xlabel, ylabel="fraction of entries per bin")
    ax.set_title(style.title(title, 6.0))
    style.legend_below(fig, ncol=2)
    return write_figure(fig, path)


def scatter_panels(
    path: str,
    panels: Mapping[str, tuple],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    colour_label: str,
    chance: float | None = None,
) -> str:
    """One scatter panel per name (x, y, colour) with the same axes limits, fitted to all the
    points (not to [0, 1]: they may all sit in a corner), one colour bar, and the ``chance``
    level on both axes (e.g. eigen-features in usefulness x robustness space); returns path."""
    n = len(panels)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = style.figure(rows, cols, panel=(3.4, 3.2), sharex=True, sharey=True)
    everything = [np.asarray(c, float) for _, _, c in panels.values()]
    vmin, vmax = min(c.min() for c in everything), max(c.max() for c in everything)
    xs = np.concatenate([np.asarray(x, float) for x, _, _ in panels.values()] + ([[chance]] if chance else []))
    ys = np.concatenate([np.asarray(y, float) for _, y, _ in panels.values()] + ([[chance]] if chance else []))
    pad = lambda v: 0.06 * max(float(np.ptp(v)), 0.02)  # noqa: E731
    points = None
    for ax, (name, (x, y, colour)) in zip(axes.flat, panels.items()):
        points = ax.scatter(x, y, c=colour, cmap="viridis", s=14, vmin=vmin, vmax=vmax, label="_features")
        if chance is not None:
            ax.axhline(chance, **style.CHANCE, label="chance")
            ax.axvline(chance, **style.CHANCE)
        ax.set_title(name)
    axes[0, 0].set_xlim(xs.min() - pad(xs), xs.max() + pad(xs))
    axes[0, 0].set_ylim(ys.min() - pad(ys), ys.max() + pad(ys))
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    for ax in axes[-1, :]:
        ax.set_xlabel(xlabel)
    fig.suptitle(style.title(title, 3.4 * cols, 10))
    fig.colorbar(points, ax=axes[:, :n] if rows == 1 else axes, label=colour_label, shrink=0.9)
    if chance is not None:
        style.legend_below(fig, axes=[axes[0, 0]])
    return write_figure(fig, path)


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
    return write_figure(fig, path)


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
    return write_figure(fig, path)


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
    return write_figure(fig, path)


def pathway_grid(path: str, recipes: Sequence[Mapping], *, chance: float, title: str) -> str:
    """App. C: one small four-curve panel per recipe (rows: learning rate x augmentation,
    columns: L2), seeds as a min-max band around their mean, panel coloured by pathway label.

    ``recipes``: dicts with ``cell`` (learning_rate, weight_decay, augment), ``curves``
    {name: (epochs, seeds) array} and ``verdict`` (label, score).
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
    return write_figure(fig, path)


def side_by_side_curves(path: str, panels: Mapping[str, Mapping[str, Sequence[float]]], *, chance, title) -> str:
    """One four-curve panel per model (same accuracy axis), e.g. Fig. 2's models trained on the
    examples that transfer and on those that do not."""
    fig, axes = style.figure(1, len(panels), panel=(4.8, 3.6), sharey=True)
    for ax, (name, series) in zip(axes[0], panels.items(), strict=True):
        for i, (curve, values) in enumerate(series.items()):
            colour, label = _FOUR_CURVE_STYLE.get(curve, (None, curve))
            ax.plot(
                np.arange(1, len(values) + 1),
                values,
                color=colour,
                marker=style.MARKERS[i % len(style.MARKERS)],
                markersize=style.marker_size(i),
                mfc="none",
                label=label,
            )
        style.chance_line(ax, chance)
        ax.set(title=name, xlabel="epoch", ylim=(0, 1.02))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("accuracy")
    fig.suptitle(style.title(title, 4.8 * len(panels), 10))
    style.legend_below(fig)
    return write_figure(fig, path)


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
    fig, axes = style.figure(1, len(panels), panel=(4.8, 3.6), sharey=True)
    for ax, (name, series) in zip(axes[0], panels.items(), strict=True):
        for i, (curve, values) in enumerate(series.items()):
            colour, line, label = look[curve]
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
        ax.set(title=name, xlabel="epoch", ylim=(0, 1.02))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("accuracy / fraction of attacked examples")
    fig.suptitle(style.title(title, 4.8 * len(panels), 10))
    style.legend_below(fig)
    return write_figure(fig, path)
