"""Layout checks read from a rendered matplotlib figure: what a reader would see as broken.

- a legend box covering any plotted point or line segment (data lines, reference lines, scatter
  points, histogram outlines) of its own or any other axes;
- two texts overlapping (titles, axis labels, tick labels, annotations, legend boxes, colour-bar
  labels), or an annotation inside the axes lying on a plotted series;
- a labelled series that cannot be seen: no point inside the axes' view, or every point drawn
  under points of a later series at least as large (a curve hidden by another).
"""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from matplotlib.text import Text

PIXELS = 1.5  # points closer than this are drawn on top of each other


def problems(fig) -> list[str]:
    """Every layout problem of ``fig`` (empty: none), each a line naming the artists involved."""
    canvas = FigureCanvasAgg(fig)  # a closed figure keeps its artists but loses its canvas
    canvas.draw()
    renderer = canvas.get_renderer()
    series = [s for ax in fig.axes for s in _series(ax)]
    legends = _legends(fig)
    out = []
    for legend in legends:
        box = legend.get_window_extent(renderer).padded(-1)
        for name, points in series:
            if _any_inside(points, box):
                out.append(f"legend covers {name}")
    texts = _texts(fig, renderer)
    boxes = [(f"legend {i}", lg.get_window_extent(renderer)) for i, lg in enumerate(legends)]
    for (a, box_a), (b, box_b) in itertools.combinations(texts + boxes, 2):
        if box_a.padded(-1).overlaps(box_b.padded(-1)):
            out.append(f"{a!r} overlaps {b!r}")
    for ax in fig.axes:
        for text in ax.texts:
            if not text.get_visible() or not text.get_text().strip() or text.get_gid() == "cell":
                continue
            box = text.get_window_extent(renderer).padded(-1)
            for name, points in _series(ax):
                if _any_inside(points, box):
                    out.append(f"text {text.get_text()!r} lies on {name}")
    out += _hidden(fig)
    return out


def _series(ax) -> list[tuple[str, np.ndarray]]:
    """(name, display points (n, 2)) of what is plotted in ``ax`` and inside it: lines sampled
    densely along their segments (reference lines too: each artist's own transform), scatter
    points, histogram outlines."""
    out = []
    for line in ax.get_lines():
        if not line.get_visible() or len(line.get_xydata()) == 0:
            continue
        xy = _finite(line.get_transform().transform(line.get_xydata()))
        if line.get_linestyle() not in ("None", "", " "):
            xy = _densify(xy)
        out.append((f"line {line.get_label()!r}", _inside(ax, xy)))
    for collection in ax.collections:
        if isinstance(collection, PathCollection) and collection.get_visible() and len(collection.get_offsets()):
            xy = collection.get_offset_transform().transform(collection.get_offsets())
            out.append((f"points {collection.get_label()!r}", _inside(ax, _finite(xy))))
    for patch in ax.patches:
        if isinstance(patch, Polygon) and patch.get_visible() and not patch.get_fill():
            xy = _densify(_finite(patch.get_transform().transform(patch.get_xy())))
            out.append((f"outline {patch.get_label()!r}", _inside(ax, xy)))
    return out


def _finite(xy) -> np.ndarray:
    xy = np.asarray(xy, float).reshape(-1, 2)
    return xy[np.isfinite(xy).all(1)]


def _inside(ax, points: np.ndarray) -> np.ndarray:
    """The display points inside the axes' box."""
    box = ax.get_window_extent()
    keep = (points[:, 0] >= box.x0 - 0.5) & (points[:, 0] <= box.x1 + 0.5)
    keep &= (points[:, 1] >= box.y0 - 0.5) & (points[:, 1] <= box.y1 + 0.5)
    return points[keep]


def _densify(xy: np.ndarray, step: float = 2.0) -> np.ndarray:
    """Points every ``step`` pixels along each segment, so a legend over a segment counts."""
    if len(xy) < 2:
        return xy
    parts = []
    for a, b in zip(xy[:-1], xy[1:]):
        n = max(2, int(np.linalg.norm(b - a) / step))
        parts.append(a + np.linspace(0, 1, n, endpoint=False)[:, None] * (b - a))
    return np.concatenate([*parts, xy[-1:]])


def _any_inside(points: np.ndarray, box) -> bool:
    if not len(points):
        return False
    x, y = points[:, 0], points[:, 1]
    return bool(np.any((x > box.x0) & (x < box.x1) & (y > box.y0) & (y < box.y1)))


def _texts(fig, renderer) -> list[tuple[str, object]]:
    """(text, window box) of every drawn non-empty text outside legends and heatmap cells."""
    ticks, drawn = set(), set()
    for ax in fig.axes:
        for axis in _axes_of(ax):
            low, high = sorted(axis.get_view_interval())
            span = max(high - low, 1e-300)
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                ticks.update({tick.label1, tick.label2})
                if low - 1e-9 * span <= tick.get_loc() <= high + 1e-9 * span and ax.axison and ax.get_visible():
                    drawn.update(label for label in (tick.label1, tick.label2) if label.get_visible())
    legend_texts = {text for lg in _legends(fig) for text in [*lg.get_texts(), lg.get_title()]}
    found = []
    for artist in fig.findobj(Text):
        if artist in ticks and artist not in drawn:
            continue
        if not artist.get_visible() or not artist.get_text().strip() or artist.get_gid() == "cell":
            continue
        if artist in legend_texts:
            continue
        found.append((artist.get_text(), artist.get_window_extent(renderer)))
    return found


def _axes_of(ax) -> list:
    """The x and y axis of ``ax``, and of its secondary axes (labelled markers above a panel)."""
    out = [ax.xaxis, ax.yaxis]
    for child in ax.child_axes:
        out += [child.xaxis, child.yaxis]
    return out


def _legends(fig):
    return [lg for lg in [*fig.legends, *(ax.get_legend() for ax in fig.axes)] if lg is not None]


def _hidden(fig) -> list[str]:
    """Labelled series with no point in view, or whose every point lies under a later series'
    at least as large (marker) and as wide (line)."""
    out = []
    for ax in fig.axes:
        drawn = []
        for artist in [*ax.get_lines(), *[c for c in ax.collections if isinstance(c, PathCollection)]]:
            label = artist.get_label()
            if label.startswith("_") or not artist.get_visible():
                continue
            if isinstance(artist, Line2D):
                pts = _inside(ax, _finite(artist.get_transform().transform(artist.get_xydata())))
                has_marker = artist.get_marker() not in (None, "None", "", " ")
                size = artist.get_markersize() if has_marker else 0.0
                width = 0.0 if artist.get_linestyle() in ("None", "", " ") else artist.get_linewidth()
                solid = artist.get_linestyle() == "-"
                if width:
                    pts = _densify(pts)
            else:
                pts = _inside(ax, _finite(artist.get_offset_transform().transform(artist.get_offsets())))
                size, width, solid = float(np.sqrt(np.max(artist.get_sizes()))), 0.0, True
            if not len(pts):
                out.append(f"{label!r} has no point inside the axes")
                continue
            drawn.append((label, pts, size, width, artist.get_zorder(), solid))
        for i, (label, pts, size, width, z, _) in enumerate(drawn):
            for other, other_pts, other_size, other_width, other_z, other_solid in drawn[i + 1 :]:
                # a dashed or dotted line on top leaves the one below visible in its gaps
                if other_z < z or other_size < size or other_width < 0.9 * width or (width and not other_solid):
                    continue
                gaps = np.min(np.linalg.norm(pts[:, None, :] - other_pts[None, :, :], axis=-1), axis=1)
                if np.all(gaps < PIXELS):
                    out.append(f"{label!r} is hidden under {other!r}")
                    break
    return out
