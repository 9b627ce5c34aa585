"""A trained run, loaded: its model, settings and history, and what one does with a model."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from autoencode.data.batches import apply_in_batches, batches, to_float
from autoencode.data.types import Dataset
from autoencode.errors import AutoencodeError, DataError, RunFolderError
from autoencode.models.autoencoder import Autoencoder
from autoencode.runfolder import RunConfig, RunFolder
from autoencode.training.device import denormals_flushed, inference_batch, resolve_device


@dataclass
class Run:
    """A trained model with its settings and history: loaded from a run folder, or as
    ``train`` leaves it (the same model, in memory)."""

    path: Path
    config: RunConfig
    model: Autoencoder
    history: list[dict] = field(default_factory=list)
    _batches: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.path)

    @property
    def figures(self) -> Path:
        return self.folder.figures

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def inference_batch(self) -> int:
        """The batch that encoding and reconstructing take when none is given: sized to the
        model's largest activation on its device (``training.device.inference_batch``)."""
        key = str(self.device)
        if key not in self._batches:
            shape = tuple(self.config.model.input_shape)
            self._batches[key] = inference_batch(self.model, shape, self.device)
        return self._batches[key]

    def load_dataset(self, data_dir=None, *, data: Dataset | str | Path | None = None) -> Dataset:
        """The data this run was trained on (as its config records it), or ``data`` (a Dataset,
        or what names one) if given: what a command on this run works on."""
        from autoencode.data.datasets import load_dataset

        return load_dataset(data if data is not None else self.config.data, data_dir)

    def _check(self, images: np.ndarray, what: str = "images") -> None:
        """Images of the shape the model was trained on, or one DataError saying both shapes."""
        shape = tuple(self.config.model.input_shape)
        c, h, w = shape
        fits = images.shape[1:] in ([(h, w), (h, w, 1)] if c == 1 else [(h, w, c)])
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or not fits:
            raise DataError(f"{what}: the model takes uint8 images of {h}×{w}×{c}, "
                            f"got {images.dtype} {tuple(images.shape[1:])}")  # fmt: skip
        if len(images) == 0:  # an empty split of a data file: nothing to batch
            raise DataError(f"{what}: an empty array; the model needs at least one image")

    @torch.inference_mode()
    def _apply(self, fn, images: np.ndarray, batch_size: int | None) -> np.ndarray:
        self._check(images)
        self.model.eval()
        with denormals_flushed():
            return apply_in_batches(fn, images, self.device, batch_size or self.inference_batch,
                                    self.model.memory_format).numpy()  # fmt: skip

    def encode(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """uint8 images to codings (the mean, for a variational model)."""
        return self._apply(self.model.encode, images, batch_size)

    def reconstruct(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """uint8 images to reconstructions in [0, 1], in the images' own layout."""
        return self._to_layout(
            torch.from_numpy(self._apply(self.model.reconstruct, images, batch_size))
        )

    @torch.inference_mode()
    def codings_and_errors(self, images: np.ndarray,
                           batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Each image's codings, flattened (``(N, D)`` float32), and its mean squared
        reconstruction error (pixels in [0, 1], float64), from one pass of the encoder: what an
        anomaly score reads. Filled batch by batch into arrays made once."""
        self._check(images)
        self.model.eval()
        codings, errors, start = None, np.empty(len(images)), 0
        layout = self.model.memory_format
        with denormals_flushed():
            for batch in batches(images, self.device, batch_size or self.inference_batch):
                z = self.model.encode(to_float(batch).contiguous(memory_format=layout))
                out = self.model.decode(z).cpu().double()
                if codings is None:
                    codings = np.empty((len(images), z[0].numel()), np.float32)
                stop = start + len(batch)
                codings[start:stop] = z.reshape(len(batch), -1).cpu().numpy()
                target = batch.cpu().double() / 255.0
                errors[start:stop] = (out - target).square().flatten(1).mean(1).numpy()
                start = stop
        return codings, errors

    def _to_layout(self, images: torch.Tensor) -> np.ndarray:
        """(N, C, H, W) model output to (N, H, W) for one channel, else (N, H, W, C)."""
        out = images.cpu().numpy()
        return out[:, 0] if out.shape[1] == 1 else out.transpose(0, 2, 3, 1)

    @torch.inference_mode()
    def sample(self, n: int, seed: int | None = None, sampler: str | None = None) -> np.ndarray:
        """``n`` new images decoded from random codings: drawn from the objective's prior
        (``sampler`` None or ``"prior"``: generative models), or from a sampler fitted on the
        run's codings (``autoencode fit-sampler``: any model). The same seed, the same images."""
        return self._to_layout(self.model.eval().decode(self.draw_codings(n, seed, sampler)))

    @torch.inference_mode()
    def draw_codings(self, n: int, seed: int | None = None,
                     sampler: str | None = None) -> torch.Tensor:  # fmt: skip
        """``n`` codings, in the model's codings shape on its device, as ``sample`` decodes them."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        if sampler in (None, "prior"):
            if not self.model.generative:
                kind = self.config.model.objective.kind
                raise AutoencodeError(f"{self.path}: a model with the {kind!r} objective has no "
                                      "prior; fit a sampler on its codings (autoencode "
                                      f"fit-sampler {self.path}) and use it ({{parameter}} gmm)",
                                      parameter="sampler")  # fmt: skip
            return self.model.prior_codings(n, generator)
        fitted, _ = self.folder.load_sampler(sampler)
        return self._codings_of(sampler, fitted, fitted.sample(n, generator))

    def _codings_of(self, name: str, fitted, draw: torch.Tensor) -> torch.Tensor:
        """A sampler's draw as the model's codings: flat codings reshaped, or (a code prior's)
        code indices looked up in the model's codebook; a sampler fitted on another model's
        codings is a RunFolderError."""
        shape, file = tuple(self.model.codings_shape), self.folder.sampler_file(name)
        if fitted.kind != "codes":
            if draw.shape[1] != math.prod(shape):
                raise RunFolderError(f"{file}: fitted on {draw.shape[1]} codings; the model's "
                                     f"are {math.prod(shape)}")  # fmt: skip
            return draw.reshape(len(draw), *shape).to(self.device)
        codebook = getattr(self.model.head, "vectors", None)
        grid = shape[1:] if len(shape) == 3 else (1,)
        if (
            codebook is None
            or fitted.codebook != len(codebook)
            or fitted.positions != math.prod(grid)
        ):
            raise RunFolderError(f"{file}: a code prior fits a vector-quantised model of "
                                 f"{fitted.codebook} codes at {fitted.positions} positions, "
                                 "not this run's model")  # fmt: skip
        vectors = codebook[draw.to(self.device)]  # (n, positions, dim)
        if len(shape) == 1:
            return vectors[:, 0]
        return vectors.reshape(len(draw), *grid, shape[0]).movedim(-1, 1)

    @torch.no_grad()
    def fitting_codings(self, images: np.ndarray, kind: str) -> np.ndarray:
        """What a sampler of ``kind`` is fitted on: the flat codings of ``images`` (float), or
        for a code prior each image's grid of code indices (int64, raster order)."""
        z = torch.from_numpy(self.encode(images))
        if kind != "codes":
            return z.flatten(1).double().numpy()
        if not hasattr(self.model.head, "indices"):
            raise AutoencodeError(f"{self.path}: a code prior needs a vector-quantised model "
                                  f"(preset vq); this one's objective is "
                                  f"{self.config.model.objective.kind!r}; use {{parameter}} gmm",
                                  parameter="sampler")  # fmt: skip
        vectors = z if z.ndim == 2 else z.movedim(1, -1)
        indices = self.model.head.indices(vectors.to(self.device)).cpu()
        return indices.reshape(len(z), -1).numpy()

    @torch.inference_mode()
    def interpolate(self, a: np.ndarray, b: np.ndarray, steps: int = 8) -> np.ndarray:
        """Decode ``steps`` points on the straight line between the codings of images a and b."""
        return self.decode_line(torch.from_numpy(self.encode(np.stack([a, b]))), steps)

    @torch.inference_mode()
    def decode_line(self, ends: torch.Tensor, steps: int = 8) -> np.ndarray:
        """Decode ``steps`` points on the straight line between two codings ``ends[0]`` and
        ``ends[1]`` (say, two drawn from a sampler: ``draw_codings(2, seed, sampler)``)."""
        z = ends.to(self.device)
        t = torch.linspace(0, 1, steps, device=self.device).view(-1, *[1] * (z.ndim - 1))
        return self._to_layout(self.model.eval().decode(z[0] + t * (z[1] - z[0])))


def load_run(path: str | Path | Run, device: str | torch.device = "cpu") -> Run:
    """Rebuild the model of a run folder from ``config.json`` and ``model.safetensors`` alone,
    on ``device`` (``auto``: CUDA when present); a :class:`Run` is returned as it is."""
    if isinstance(path, Run):
        return path
    device = resolve_device(str(device))  # an unknown device or absent CUDA: one ConfigError
    folder = RunFolder(path)
    config = folder.read_config()
    history = folder.read_history()  # read once: the model's check and the Run's
    model = folder.load_model(config, device, history)
    # the layout it trained in: a conv model's channels-last batches encode 1.6× as fast here
    model.to(memory_format=model.memory_format)
    return Run(folder.path, config, model, history)
