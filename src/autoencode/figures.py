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


def reconstruction_figure(originals: np.ndarray, reconstructions: np.ndarray,
                          inputs: np.ndarray | None = None):  # fmt: skip
    """Originals in the top row, their reconstructions below (the seed's ``show_reconstructions``);
    with ``inputs`` (noisy versions of the originals), those in a middle row: what the model saw."""
    rows = [originals, reconstructions] if inputs is None else [originals, inputs, reconstructions]
    n = len(originals)
    fig = _figure(n * 1.5, 1.5 * len(rows))
    for r, row in enumerate(rows):
        for i in range(n):
            _show_image(fig.add_subplot(len(rows), n, 1 + r * n + i), row[i])
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


def captioned_rows_figure(rows: list[np.ndarray], captions: list[list[str]],
                          titles: list[str] | None = None):  # fmt: skip
    """Rows of images, each image with a caption under it and each row with a title at its left
    (a query and its neighbours; the most and the least anomalous images)."""
    cols = max(len(row) for row in rows)
    fig = _figure(cols * 1.1 + (1.2 if titles else 0), len(rows) * 1.45)
    grid = fig.add_gridspec(len(rows), cols, wspace=0.1, hspace=0.55)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            ax = fig.add_subplot(grid[r, c])
            _show_image(ax, image)
            ax.set_title(captions[r][c], fontsize=6.5)
            if c == 0 and titles:
                ax.text(-0.15, 0.5, titles[r], transform=ax.transAxes, ha="right", va="center",
                        fontsize=8)  # fmt: skip
    return fig


def spread_points(coords: np.ndarray, min_distance: float = 0.05, seed: int = 0) -> list[int]:
    """Indices of points at least ``min_distance`` apart (coordinates scaled to [0, 1])."""
    span = coords.max(0) - coords.min(0)
    scaled = (coords - coords.min(0)) / np.where(span > 0, span, 1)
    chosen: list[int] = []
    for i in np.random.default_rng(seed).permutation(len(coords)):
        if not chosen or np.min(np.linalg.norm(scaled[chosen] - scaled[i], axis=1)) >= min_distance:
            chosen.append(int(i))
    return chosen


def map_figure(coords: np.ndarray, labels: np.ndarray | None = None,
               class_names: tuple[str, ...] | None = None, images: np.ndarray | None = None,
               title: str = ""):  # fmt: skip
    """A 2-D map of codings: points coloured by class (tab10, as the seed) with a legend of the
    class names; with ``images``, thumbnails drawn at spread-out points (as handson-ml3 does)."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    fig = _figure(10, 8)
    ax = fig.add_subplot(1, 1, 1)
    if labels is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=4, c="0.3", alpha=0.6, linewidths=0)
    else:
        cmap = _colormap(int(labels.max()) + 1)
        for c in np.unique(labels):
            at = labels == c
            name = class_names[c] if class_names is not None and c < len(class_names) else str(c)
            ax.scatter(
                coords[at, 0], coords[at, 1], s=4, color=cmap(int(c)), label=name, linewidths=0
            )
        legend = ax.legend(
            loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, markerscale=4
        )
        legend.set_title("class")
    if images is not None:
        for i in spread_points(coords):
            thumb = OffsetImage(np.asarray(images[i]), cmap="binary", zoom=0.8)
            ax.add_artist(
                AnnotationBbox(thumb, coords[i], frameon=True, pad=0.1, bboxprops={"lw": 0.3})
            )
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _colormap(n: int):
    from matplotlib import colormaps

    if n > 20:  # past tab20's colours: evenly spaced hues, one per class
        return colormaps["gist_rainbow"].resampled(n)
    return colormaps["tab10" if n <= 10 else "tab20"]


def history_figure(history: list[dict]):
    """Loss per epoch, training and validation, and each named term when there are several."""
    fig = _figure(6, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    epochs = [row["epoch"] for row in history]
    for key in history[0]:
        if key not in ("epoch", "seconds"):
            ax.plot(epochs, [row[key] for row in history], marker="o", ms=3,
                    ls="--" if key.startswith("val_") else "-", label=key)  # fmt: skip
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(frameon=False, fontsize=8)
    return fig


def pretraining_figure(summary: dict):
    """Left, test accuracy against the number of labels (log x), a line per mode with its 95%
    interval as a band; right, each mode minus scratch, paired by seed
    (``analysis.pretraining.summarise``'s output)."""
    fig = _figure(11, 4)
    counts = sorted(summary, key=int)
    modes = list(dict.fromkeys(m for n in counts for m in summary[n]["modes"]))
    colours = {mode: f"C{i}" for i, mode in enumerate(modes)}
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for mode in modes:
        _band(left, counts, lambda n, m=mode: summary[n]["modes"].get(m), colours[mode], mode)
        if mode != "scratch":
            _band(right, counts, lambda n, m=mode: summary[n]["minus_scratch"].get(m),
                  colours[mode], f"{mode} − scratch")  # fmt: skip
    right.axhline(0, color="C2", lw=1)
    seeds = max(c["n"] for n in counts for c in summary[n]["modes"].values())
    for ax, label in ((left, "test accuracy"), (right, "difference in test accuracy")):
        ax.set_xscale("log")
        ax.set_xlabel("labelled training images")
        ax.set_ylabel(label)
        if ax.get_legend_handles_labels()[0]:  # the right panel is empty without scratch
            ax.legend(frameon=False, fontsize=8)
        ax.grid(alpha=0.3)
    left.set_title(f"mean over {seeds} seed(s); bands: 95% confidence intervals", fontsize=9)
    right.set_title("paired by seed: the same labelled images", fontsize=9)
    return fig


def _band(ax, counts: list[str], cell_of, colour: str, label: str) -> None:
    """A line of means and, where every point has one, its interval as a band."""
    held = [(int(n), cell) for n in counts if (cell := cell_of(n)) is not None]
    if not held:
        return
    x, cells = [n for n, _ in held], [cell for _, cell in held]
    ax.plot(x, [c["mean"] for c in cells], marker="o", ms=4, color=colour, label=label)
    if all(c["low"] is not None for c in cells):
        ax.fill_between(x, [c["low"] for c in cells], [c["high"] for c in cells], color=colour,
                        alpha=0.2, lw=0)  # fmt: skip


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG atomically."""
    from autoencode.io import atomic_write

    return atomic_write(
        path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    )
