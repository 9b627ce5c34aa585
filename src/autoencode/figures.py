"""Figures: arrays in, a matplotlib ``Figure`` out. Saving is the caller's job (``save_figure``)."""

from __future__ import annotations

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


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG atomically."""
    from autoencode.training.checkpoint import atomic_write

    return atomic_write(
        path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    )
