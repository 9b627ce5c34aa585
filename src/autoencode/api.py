"""Training in one call: a preset (or configs), a dataset, a run folder."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import torch

from autoencode.data.datasets import DATASETS, Dataset
from autoencode.errors import AutoencodeError, RunFolderError
from autoencode.models.base import ModelConfig, build_model, config_from_dict
from autoencode.presets import get_preset
from autoencode.training import distributed
from autoencode.training.checkpoint import load_tensors, read_json
from autoencode.training.config import TrainingConfig
from autoencode.training.device import resolve_device
from autoencode.training.runfolder import CHECKPOINT, FORMAT, Run, RunWriter, load_run
from autoencode.training.trainer import Trainer


def train(
    preset: str | None = "stacked",
    data: Dataset | None = None,
    out: str | Path | None = None,
    *,
    model: ModelConfig | None = None,
    training: TrainingConfig | None = None,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    **overrides,
) -> Run:
    """Train a model and write its run folder; returns the loaded :class:`Run`.

    ``preset`` names the model and training settings (see ``autoencode.PRESETS``); ``model`` /
    ``training`` replace them; keyword ``overrides`` (``epochs=5``, ``lr=0.5``) change single
    training settings.

    >>> run = train("stacked", load_dataset("fashion-mnist"), "runs/stacked", epochs=10)
    """
    if data is None:
        raise AutoencodeError("train() needs a dataset: data=load_dataset('fashion-mnist')")
    chosen = get_preset(preset) if preset else None
    model_config = model or (chosen.model if chosen else None)
    if model_config is None:
        raise AutoencodeError("train() needs a preset or a model config")
    training = training or (chosen.training if chosen else TrainingConfig())
    training = TrainingConfig.from_dict({**training.to_dict(), **overrides})
    if tuple(model_config.input_shape) != data.image_shape:
        model_config = dataclasses.replace(model_config, input_shape=data.image_shape)
    out = Path(out) if out is not None else default_run_path(preset or model_config.kind)
    world, _ = distributed.join(resolve_device(device))
    if world.main:  # under torchrun, rank 0 alone touches the folder
        _prepare_folder(out, overwrite)
    distributed.barrier(world)
    config = {
        "format": FORMAT,
        "preset": preset,
        "model": model_config.to_dict(),
        "training": training.to_dict(),
        "data": {"dataset": data.name if data.name in DATASETS else data.source,
                 "source": data.source, "train_size": len(data.train), "valid_size": len(data.valid)},
    }  # fmt: skip
    torch.manual_seed(training.seed)  # the weights and any sampling; shuffling derives its own
    trainer = Trainer(build_model(model_config), training, device, threads, progress)
    return _fit(trainer, data, out, config)


def resume(path: str | Path, data: Dataset, device: str = "auto", threads: int | None = None,
           progress: bool = True, epochs: int | None = None) -> Run:  # fmt: skip
    """Continue an interrupted run from its last finished epoch (to ``epochs`` if given)."""
    path = Path(path)
    config = read_json(path / "config.json")
    if config.get("format") != FORMAT:
        raise RunFolderError(f"{path / 'config.json'}: not an autoencode run config ({FORMAT})")
    training = TrainingConfig.from_dict(config["training"])
    if epochs is not None:
        training = dataclasses.replace(training, epochs=epochs)
        config["training"] = training.to_dict()
    model = build_model(config_from_dict(config["model"]))
    tensors, meta = load_tensors(path / CHECKPOINT)
    if meta is None:
        raise RunFolderError(f"{path / CHECKPOINT}: has no trainer state")
    trainer = Trainer(model, training, device, threads, progress)
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        trainer.load_state(tensors, meta)
    except (RuntimeError, KeyError, ValueError) as e:
        raise RunFolderError(f"{path / CHECKPOINT}: does not fit config.json ({e})") from None
    return _fit(trainer, data, path, config)


def _fit(trainer: Trainer, data: Dataset, out: Path, config: dict) -> Run:
    writer = RunWriter(out, config)
    if trainer.world.main:
        writer.start(trainer)
    trainer.callbacks.append(writer)
    trainer.fit(data.train, data.valid)
    return load_run(out, device=str(trainer.device))


def default_run_path(name: str) -> Path:
    import datetime as dt

    return Path("runs") / f"{name}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _prepare_folder(path: Path, overwrite: bool) -> None:
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise RunFolderError(
                f"{path}: run folder exists; use --resume to continue it or --overwrite"
            )
        if not (path / "config.json").is_file():  # --overwrite never deletes the user's own files
            raise RunFolderError(
                f"{path}: not a run folder (no config.json); --overwrite only replaces run folders"
            )
        shutil.rmtree(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(f"{path}: cannot create the run folder ({e.strerror or e})") from None
