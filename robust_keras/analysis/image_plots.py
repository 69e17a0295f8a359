"""Image figures: clean vs perturbed rows, and tables of signed maps such as input gradients."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from robust_keras.analysis import figure_style as style
from robust_keras.analysis.plots import plt, save_figure


def image_grid(
    path: str,
    rows: Sequence[np.ndarray],
    titles: Sequence[str],
    *,
    row_labels: Sequence[str],
    title: str | None = None,
) -> str:
    """Rows of images in [0, 1] (e.g. clean above, perturbed below; each (n, H, W, C)), labelled
    rows, per-column titles and an optional figure title."""
    n = len(rows[0])
    height = 1.4 * len(rows) + (0.4 if title else 0.2)
    fig, axes = plt.subplots(len(rows), n, figsize=(1.3 * n + 0.8, height), layout="constrained", squeeze=False)
    for j in range(n):
        for i, images in enumerate(rows):
            ax = axes[i][j]
            img = images[j]
            ax.imshow(np.clip(img.squeeze(), 0, 1), cmap="gray" if img.shape[-1] == 1 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0][j].set_title(titles[j], fontsize=7)
    for i, label in enumerate(row_labels):
        axes[i][0].set_ylabel(label, fontsize=8)
    if title:
        fig.suptitle(style.title(title, 1.3 * n + 0.8, 8), fontsize=8)
    return save_figure(fig, path)


def signed_image_table(
    path: str,
    table: Sequence[Sequence[np.ndarray]],
    *,
    row_labels: Sequence[str],
    col_titles: Sequence[str],
    title: str,
    image_cols: int = 1,
) -> str:
    """A rows x cols table of (H, W, C) arrays with row labels and column titles. The first
    ``image_cols`` columns are images in [0, 1] (grey for one channel); the others are signed maps
    (e.g. input gradients) scaled per cell so that 0 is white / grey: one channel in a red-blue
    map (red > 0), three channels as 0.5 + 0.5 g / max|g|."""
    rows, cols = len(table), len(col_titles)
    fig, axes = plt.subplots(
        rows, cols, figsize=(1.35 * cols + 1.2, 1.35 * rows + 0.6), layout="constrained", squeeze=False
    )
    for i, row in enumerate(table):
        for j, (ax, img) in enumerate(zip(axes[i], row, strict=True)):
            ax.set_xticks([])
            ax.set_yticks([])
            img = np.asarray(img, float)
            if j < image_cols:
                ax.imshow(img.squeeze(), cmap="gray" if img.shape[-1] == 1 else None, vmin=0, vmax=1)
            elif img.shape[-1] == 1:
                scale = np.abs(img).max() or 1.0
                ax.imshow(img[..., 0], cmap="RdBu_r", vmin=-scale, vmax=scale)
            else:
                ax.imshow(np.clip(0.5 + 0.5 * img / (np.abs(img).max() or 1.0), 0, 1))
        axes[i][0].set_ylabel(row_labels[i], fontsize=7)
    for j, name in enumerate(col_titles):
        axes[0][j].set_title(name, fontsize=7)
    fig.suptitle(style.title(title, 1.35 * cols + 1.2, 8), fontsize=8)
    return save_figure(fig, path)
