"""``autoencode generate``: new images decoded from random codings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autoencode.errors import AutoencodeError
from autoencode.figures import image_grid_figure, save_figure
from autoencode.io import write_npy
from autoencode.run import Run, load_run


def save_samples(run: Run | str | Path, images: int = 12, *, seed: int = 42,
                 out: str | Path | None = None, npy: str | Path | None = None) -> list[Path]:  # fmt: skip
    """``images`` new images decoded from random codings, as a grid (default
    RUN/figures/samples.png) and, with ``npy``, as a float32 array; the same seed, the same images."""
    run = load_run(run)
    if not run.model.generative:
        raise AutoencodeError(f"{run.path}: a model with the {run.config.model.objective.kind!r} objective cannot generate; "
                              "train a variational one (preset vae)")  # fmt: skip
    samples = run.sample(images, seed)
    written = [save_figure(image_grid_figure(samples), out or run.folder.figure("samples"))]
    if npy:
        written.append(write_npy(npy, samples.astype(np.float32)))
    return written
