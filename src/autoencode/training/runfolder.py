"""The run folder: everything a training run leaves, and all that later commands read.

    runs/<name>/
      config.json          model + training settings, dataset, versions, device
      model.safetensors    the weights after the last finished epoch
      history.csv          one row per epoch
      metrics.json         final numbers (later commands add theirs)
      checkpoint/last.safetensors   weights + optimizer + RNG state, for --resume
      figures/*.png

Loading needs only the folder and this library; nothing is pickled.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from autoencode.errors import ConfigError, RunFolderError
from autoencode.models.base import Autoencoder, build_model
from autoencode.training import distributed
from autoencode.training.batches import apply_in_batches
from autoencode.training.checkpoint import (
    load_tensors,
    read_json,
    save_tensors,
    write_json,
    write_text,
)

FORMAT = "autoencode-run/1"
CHECKPOINT = Path("checkpoint") / "last.safetensors"


def history_csv(history: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in history for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return out.getvalue()


def runtime_info(device: torch.device, threads: int) -> dict:
    from autoencode import __version__

    return {
        "device": str(device), "threads": threads, "processes": distributed.current().size,
        "autoencode": __version__,
        "torch": torch.__version__, "python": platform.python_version(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip


class RunWriter:
    """Trainer callback: after each epoch, saves weights, history, metrics and a checkpoint."""

    def __init__(self, path: str | Path, config: dict):
        self.path = Path(path)
        self.config = config

    def start(self, trainer) -> None:
        self.config["runtime"] = runtime_info(trainer.device, trainer.threads)
        write_json(self.path / "config.json", self.config)

    def __call__(self, trainer) -> None:
        tensors, meta = trainer.state()
        weights = trainer.model.state_dict()
        tensors.update({f"model.{k}": v for k, v in weights.items()})
        save_tensors(self.path / CHECKPOINT, tensors, meta)
        save_tensors(self.path / "model.safetensors", weights, {"epoch": trainer.epoch})
        write_text(self.path / "history.csv", history_csv(trainer.history))
        update_metrics(self.path, {"epochs": trainer.epoch, **_final(trainer.history[-1])})


def _final(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("epoch", "seconds")}


def update_metrics(path: str | Path, values: dict) -> None:
    """Merge ``values`` into the run's ``metrics.json``."""
    target = Path(path) / "metrics.json"
    metrics = read_json(target) if target.is_file() else {}
    write_json(target, {**metrics, **values})


def read_history(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [
            {k: float(v) if k != "epoch" else int(v) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


@dataclass
class Run:
    """A trained model with its settings and history, loaded from a run folder."""

    path: Path
    config: dict
    model: Autoencoder
    history: list[dict] = field(default_factory=list)

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def load_dataset(self, data_dir=None):
        """The dataset this run was trained on (as named in its config)."""
        from autoencode.data.datasets import load_dataset

        return load_dataset(self.config["data"]["dataset"], data_dir)

    @torch.inference_mode()
    def _apply(self, fn, images: np.ndarray, batch_size: int) -> np.ndarray:
        self.model.eval()
        return apply_in_batches(fn, images, self.device, batch_size).numpy()

    def encode(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """uint8 images to codings (the mean, for a variational model)."""
        return self._apply(self.model.encode, images, batch_size)

    def reconstruct(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """uint8 images to reconstructions in [0, 1], in the images' own layout."""
        return self._to_layout(
            torch.from_numpy(self._apply(self.model.reconstruct, images, batch_size))
        )

    def _to_layout(self, images: torch.Tensor) -> np.ndarray:
        """(N, C, H, W) model output to (N, H, W) for one channel, else (N, H, W, C)."""
        out = images.cpu().numpy()
        return out[:, 0] if out.shape[1] == 1 else out.transpose(0, 2, 3, 1)

    @torch.inference_mode()
    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` new images from random codings (generative models); the same seed, the same images."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return self._to_layout(self.model.eval().sample(n, generator))

    @torch.inference_mode()
    def interpolate(self, a: np.ndarray, b: np.ndarray, steps: int = 8) -> np.ndarray:
        """Decode ``steps`` points on the straight line between the codings of images a and b."""
        z = torch.from_numpy(self.encode(np.stack([a, b]))).to(self.device)
        t = torch.linspace(0, 1, steps, device=self.device).view(-1, *[1] * (z.ndim - 1))
        return self._to_layout(self.model.eval().decode(z[0] + t * (z[1] - z[0])))


def load_run(path: str | Path, device: str = "cpu") -> Run:
    """Rebuild the model of a run folder from ``config.json`` and ``model.safetensors`` alone."""
    path = Path(path)
    if not path.is_dir():
        raise RunFolderError(f"{path}: not a run folder (no such directory)")
    config = read_json(path / "config.json")
    if config.get("format") != FORMAT or "model" not in config:
        raise RunFolderError(f"{path / 'config.json'}: not an autoencode run config ({FORMAT})")
    try:
        model = build_model(config["model"])
    except ConfigError as e:
        raise RunFolderError(f"{path / 'config.json'}: {e}") from None
    weights, _ = load_tensors(path / "model.safetensors")
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if "\n" in str(e) else str(e)
        raise RunFolderError(
            f"{path / 'model.safetensors'}: does not fit config.json ({first})"
        ) from None
    model.to(device).eval()
    return Run(path, config, model, read_history(path / "history.csv"))
