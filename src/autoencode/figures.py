"""Figures: arrays in, a matplotlib ``Figure`` out. Saving is the caller's job (``save_figure``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    return Figure(figsize=(width, height))


def _show_image(ax, image: np.ndarray) -> None:
    """One image on an axis, the seed's way: ``cmap="binary"``, no axes."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    vmax = 255 if image.dtype == np.uint8 else 1
    ax.imshow(image, cmap="binary" if image.ndim == 2 else None, vmin=0, vmax=vmax)
    ax.axis("off")


def reconstruction_figure(originals: np.ndarray, reconstructions: np.ndarray):
    """Originals in the top row, their reconstructions below (the seed's ``show_reconstructions``)."""
    n = len(originals)
    fig = _figure(n * 1.5, 3)
    for i in range(n):
        _show_image(fig.add_subplot(2, n, 1 + i), originals[i])
        _show_image(fig.add_subplot(2, n, 1 + n + i), reconstructions[i])
    return fig


def grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns for ``n`` images, about 4:3 wide: 12 gives the seed's 3 × 4."""
    cols = max(1, math.ceil(math.sqrt(n * 4 / 3)))
    return math.ceil(n / cols), cols


def image_grid_figure(images: np.ndarray, cols: int | None = None):
    """Images in a grid (the seed's generated samples: 3 rows of 4 for 12)."""
    n = len(images)
    rows, cols = grid_shape(n) if cols is None else (math.ceil(n / cols), cols)
    fig = _figure(cols * 2, rows * 2)
    for i, image in enumerate(images):
        _show_image(fig.add_subplot(rows, cols, i + 1), image)
    return fig


def strip_figure(images: np.ndarray, title: str | None = None):
    """Images in one row (an interpolation between two codings)."""
    n = len(images)
    fig = _figure(n * 1.2, 1.5)
    for i, image in enumerate(images):
        _show_image(fig.add_subplot(1, n, i + 1), image)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG atomically."""
    from autoencode.training.checkpoint import atomic_write

    return atomic_write(
        path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    )
