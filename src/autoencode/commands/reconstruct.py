"""``autoencode reconstruct``: a split's images above their reconstructions."""

from __future__ import annotations

from pathlib import Path

from autoencode.data.batches import noisy_images
from autoencode.data.types import Dataset
from autoencode.figures import reconstruction_figure, save_figure
from autoencode.run import Run, load_run


def save_reconstructions(run: Run | str | Path, data: Dataset | str | None = None, *,
                         split: str = "valid", images: int = 5, noise: float = 0.0,
                         seed: int = 0, out: str | Path | None = None,
                         data_dir=None) -> Path:  # fmt: skip
    """The first ``images`` of a split above their reconstructions (default
    RUN/figures/reconstructions.png); with ``noise``, the model is given the images with Gaussian
    noise of that standard deviation, shown between (what a denoising autoencoder is for)."""
    run = load_run(run)
    originals = run.load_dataset(data_dir, data=data).split(split).images[:images]
    inputs = noisy_images(originals, noise, seed) if noise > 0 else None
    outputs = run.reconstruct(originals if inputs is None else inputs)
    figure = reconstruction_figure(originals, outputs, inputs)
    return save_figure(figure, out or run.folder.figure("reconstructions"))
