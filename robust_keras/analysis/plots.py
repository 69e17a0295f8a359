"""PNG plots logged as MLflow artifacts, in the project's figure style (analysis/figure_style.py:
constrained layout, legends below the panels, chance lines, shared scales where panels compare)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

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
    if xscale == "log" and len(x) <= 12:  # label the values themselves (1, 2, 5 ...), not powers of ten
        ax.set_xticks(list(x), [f"{v:g}" for v in x])
        ax.minorticks_off()
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
