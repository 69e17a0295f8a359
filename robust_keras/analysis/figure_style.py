"""The project's one figure style: sizes, fonts, where legends and labels go, reference lines.

Every figure is laid out by matplotlib's constrained layout, so titles, labels, colour bars and a
legend placed *outside* the axes get their own room and never sit on the data. Conventions:

- one legend per figure, below the panels (:func:`legend_below`), listing each name once;
- accuracy axes start at 0 and carry a chance line (:func:`chance_line`) when chance is known;
- panels that are compared share their scales (``sharey`` / one colour range);
- series that may coincide are told apart by marker shape and by size (earlier series larger, so
  a later one drawn on top leaves a visible ring: :data:`MARKERS`, :func:`marker_size`);
- vertical reference values (e.g. theory radii) are labelled above the axes (:func:`x_markers`),
  not inside them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "figure.dpi": 120,
    "savefig.dpi": 120,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.markersize": 4,
    "legend.frameon": False,
}
plt.rcParams.update(STYLE)

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
CHANCE = {"color": "grey", "linestyle": ":", "linewidth": 1.2}


def figure(rows: int = 1, cols: int = 1, *, panel: tuple[float, float] = (4.6, 3.3), **options):
    """(fig, axes (rows, cols)) laid out by constrained layout; ``panel`` = inches per panel."""
    width, height = panel
    return plt.subplots(
        rows, cols, figsize=(width * cols, height * rows + 0.5), layout="constrained", squeeze=False, **options
    )


def marker_size(i: int, base: float = 9.0) -> float:
    """Marker size of the i-th series: each later one smaller (9, 7.7, 6.4, 5.1, 3.8, 2.5 for
    six series), so coinciding points stay visible as rings around each other."""
    return max(base - 1.3 * i, 2.5)


def chance_line(ax, level: float, label: str = "chance") -> None:
    ax.axhline(level, label=label, **CHANCE)


def x_markers(ax, markers: Mapping[str, float]) -> None:
    """Dotted vertical lines at the values, labelled on a secondary axis above the panel."""
    if not markers:
        return
    for value in markers.values():
        ax.axvline(value, color="grey", linestyle=":", linewidth=1)
    top = ax.secondary_xaxis("top")
    top.set_xticks(list(markers.values()), list(markers), fontsize=8)
    top.tick_params(length=0)
    top.grid(False)


def legend_below(fig, axes=None, *, ncol: int | None = None, handles=None, labels=None) -> None:
    """One legend under the panels listing every labelled artist of ``axes`` (default: all)
    once, in drawing order."""
    if handles is None:
        handles, labels, seen = [], [], set()
        for ax in axes if axes is not None else fig.axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                if label not in seen:
                    seen.add(label)
                    handles.append(handle)
                    labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol or min(len(handles), 3))


def title(text: str, width_inches: float, size: float = 9.0) -> str:
    """``text`` wrapped to the figure width (about 13 characters per inch at 9 pt)."""
    per_line = max(20, int(width_inches * 13 * 9.0 / size))
    return "\n".join(line for part in text.split("\n") for line in textwrap.wrap(part, per_line))
