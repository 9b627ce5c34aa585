"""What the analysis commands leave in a run folder, each one call: figures, codings, a map.

Each function takes a :class:`Run` or a run folder's path and, where it needs images, the run's
own data unless ``data`` names other data; each writes atomically and returns what it wrote.
The CLI's ``reconstruct``, ``generate``, ``interpolate``, ``embed`` and ``map`` are these calls.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from autoencode.analysis.embedding import check_map_method, embed, map_provenance, write_codings
from autoencode.analysis.evaluation import codings_map, run_data
from autoencode.data.batches import noisy_images
from autoencode.data.types import Dataset
from autoencode.errors import AutoencodeError
from autoencode.figures import (
    image_grid_figure,
    map_figure,
    reconstruction_figure,
    save_figure,
    strip_figure,
)
from autoencode.io import write_npy
from autoencode.run import Run, load_run


def save_reconstructions(run: Run | str | Path, data: Dataset | str | None = None, *,
                         split: str = "valid", images: int = 5, noise: float = 0.0,
                         seed: int = 0, out: str | Path | None = None,
                         data_dir=None) -> Path:  # fmt: skip
    """The first ``images`` of a split above their reconstructions (default
    RUN/figures/reconstructions.png); with ``noise``, the model is given the images with Gaussian
    noise of that standard deviation, shown between (what a denoising autoencoder is for)."""
    run = load_run(run)
    originals = run_data(run, data, data_dir).split(split).images[:images]
    inputs = noisy_images(originals, noise, seed) if noise > 0 else None
    outputs = run.reconstruct(originals if inputs is None else inputs)
    figure = reconstruction_figure(originals, outputs, inputs)
    return save_figure(figure, out or run.folder.figure("reconstructions"))


def save_samples(run: Run | str | Path, images: int = 12, *, seed: int = 42,
                 out: str | Path | None = None, npy: str | Path | None = None) -> list[Path]:  # fmt: skip
    """``images`` new images decoded from random codings, as a grid (default
    RUN/figures/samples.png) and, with ``npy``, as a float32 array; the same seed, the same images."""
    run = load_run(run)
    if not run.model.generative:
        raise AutoencodeError(f"{run.path}: a {run.config.model.kind!r} model cannot generate; "
                              "train a variational one (preset vae)")  # fmt: skip
    samples = run.sample(images, seed)
    written = [save_figure(image_grid_figure(samples), out or run.folder.figure("samples"))]
    if npy:
        written.append(write_npy(npy, samples.astype(np.float32)))
    return written


def save_interpolation(run: Run | str | Path, between: tuple[int, int] = (0, 1),
                       data: Dataset | str | None = None, *, split: str = "valid", steps: int = 8,
                       out: str | Path | None = None, data_dir=None) -> Path:  # fmt: skip
    """Images decoded from ``steps`` evenly spaced points between the codings of two images of
    a split (default RUN/figures/interpolation.png)."""
    run = load_run(run)
    images = run_data(run, data, data_dir).split(split).images
    for index in between:
        if not 0 <= index < len(images):
            raise AutoencodeError(f"{{parameter}}: index {index} is outside the {split} split "
                                  f"(0 to {len(images) - 1})", parameter="between")  # fmt: skip
    i, j = between
    strip = strip_figure(run.interpolate(images[i], images[j], max(steps, 2)), f"{split} {i} → {j}")
    return save_figure(strip, out or run.folder.figure("interpolation"))


def save_codings(run: Run | str | Path, data: Dataset | str | None = None, *,
                 split: str = "valid", out: str | Path | None = None, data_dir=None,
                 progress: bool = False) -> tuple[Path, tuple[int, int]]:  # fmt: skip
    """The codings of a split as ``.npy`` (N, D) or ``.csv`` with a label column (default
    RUN/codings_<split>.npy); returns the path and the array's shape."""
    run = load_run(run)
    chosen = run_data(run, data, data_dir).split(split)
    codings = embed(run, chosen.images, progress=progress)
    path = write_codings(out or run.folder.codings_file(split), codings, chosen.labels)
    return path, codings.shape


def save_map(run: Run | str | Path, data: Dataset | str | None = None, *, method: str = "tsne",
             split: str = "valid", seed: int = 42, thumbnails: bool = False,
             out: str | Path | None = None, data_dir=None) -> dict:  # fmt: skip
    """A 2-D map of a split's codings, coloured by class (default RUN/figures/map_<method>.png
    for the validation split, map_<method>_<split>.png for another),
    its coordinates beside it as ``.npy``, and its trustworthiness (k = 10) recorded in
    metrics.json (section ``maps``). Returns the map's numbers and both paths."""
    check_map_method(method)  # before any work
    run = load_run(run)
    dataset = run_data(run, data, data_dir)
    chosen = dataset.split(split)
    result = codings_map(run, chosen, method, seed)
    png = Path(
        out or run.folder.figure(f"map_{method}" + ("" if split == "valid" else f"_{split}"))
    )
    title = f"{method} map of the {split} codings ({run.config.name})"
    figure = map_figure(result["coords"], chosen.labels, dataset.class_names,
                        chosen.images if thumbnails else None, title)  # fmt: skip
    save_figure(figure, png)
    coords = write_npy(png.with_suffix(".npy"), result["coords"])
    scores = {"trustworthiness": result["trustworthiness"], "seconds": result["seconds"]}
    record = dict(scores)
    if coords.resolve().is_relative_to(run.path.resolve()):
        # where the coordinates are and what they were drawn from, for `explore` to reuse them
        record["coords"] = str(coords.resolve().relative_to(run.path.resolve()))
        record["coords_sha256"] = hashlib.sha256(coords.read_bytes()).hexdigest()
        record |= map_provenance(run, chosen.images, seed)
    run.folder.record("maps", record, key=f"{method}_{split}")
    return {**scores, "points": len(chosen), "figure": png, "coords": coords}


def summary(target) -> str:
    """The seed's ``model.summary()`` table of a model, a preset (by name), a Run or a run folder."""
    from torch import nn

    from autoencode.models.base import build_model
    from autoencode.models.summary import summary as model_summary
    from autoencode.presets import PRESETS, get_preset

    if isinstance(target, nn.Module):
        return model_summary(target)
    if isinstance(target, str) and target in PRESETS:
        return model_summary(build_model(get_preset(target).model))
    return model_summary(load_run(target).model)
