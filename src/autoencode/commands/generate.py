"""``autoencode generate``: new images decoded from random codings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autoencode.figures import image_grid_figure, save_figure
from autoencode.io import write_npy
from autoencode.run import Run, load_run


def save_samples(run: Run | str | Path, images: int = 12, *, seed: int = 42,
                 out: str | Path | None = None, npy: str | Path | None = None,
                 sampler: str | None = None) -> list[Path]:  # fmt: skip
    """``images`` new images decoded from random codings, as a grid (default
    RUN/figures/samples.png, or samples_<sampler>.png) and, with ``npy``, as a float32 array; the
    same seed, the same images. The codings come from the objective's prior (a variational run),
    or from ``sampler``: one fitted on the run's codings (``fit_sampler``), which any run can have."""
    run = load_run(run)
    samples = run.sample(images, seed, sampler)
    figure = "samples" if sampler in (None, "prior") else f"samples_{sampler}"
    written = [save_figure(image_grid_figure(samples), out or run.folder.figure(figure))]
    if npy:
        written.append(write_npy(npy, samples.astype(np.float32)))
    return written
