"""Where a model trains, set up before the trainer sees it: the device, the process group under
torchrun, the DDP wrapper, each rank's own sampling noise, and the CPU thread count."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from autoencode.data.types import Split
from autoencode.errors import ConfigError
from autoencode.models.base import Trainable
from autoencode.training import distributed
from autoencode.training.callbacks import Callback, ProgressBar
from autoencode.training.config import TrainingConfig
from autoencode.training.device import auto_threads, denormals_flushed, resolve_device
from autoencode.training.trainer import Trainer


@dataclass(frozen=True)
class Placement:
    """Where training runs: this process's place among several, its device, its CPU threads."""

    world: distributed.World
    device: torch.device
    threads: int


def place(model: Trainable, config: TrainingConfig, device: str = "auto",
          threads: int | None = None) -> tuple[Placement, torch.nn.Module]:  # fmt: skip
    """Move ``model`` to its device (joining torchrun's process group, if any); returns where it
    runs and the module training steps call (a DDP wrapper with several processes)."""
    world, chosen = distributed.join(resolve_device(device))
    freeze(model, config.freeze)
    model.to(chosen, memory_format=model.memory_format)
    network = model
    if world.size > 1:
        from torch.nn.parallel import DistributedDataParallel

        ids = [chosen.index] if chosen.type == "cuda" else None
        network = DistributedDataParallel(model, device_ids=ids)  # broadcasts rank 0's weights
    return Placement(world, chosen, threads or auto_threads(model, config.batch_size)), network


def freeze(model: Trainable, names: tuple[str, ...]) -> None:
    """Keep the parameters ``names`` (or under those prefixes) as they are: no gradient, no step."""
    if not names:
        return
    found = set()
    for name, parameter in model.named_parameters():
        if hits := [n for n in names if name == n or name.startswith(n + ".")]:
            parameter.requires_grad_(False)
            found.update(hits)
    if missing := sorted(set(names) - found):
        raise ConfigError(f"{{parameter}}: the model has no parameters {', '.join(missing)}",
                          parameter="freeze")  # fmt: skip


@contextlib.contextmanager
def cpu_threads(placement: Placement) -> Iterator[None]:
    """torch's CPU thread count set for training on the CPU, and denormal floats flushed
    (``denormals_flushed``); both restored afterwards."""
    previous = torch.get_num_threads()
    if placement.device.type == "cpu":
        torch.set_num_threads(placement.threads)
    try:
        with denormals_flushed():
            yield
    finally:
        torch.set_num_threads(previous)


def make_trainer(model: Trainable, config: TrainingConfig, device: str = "auto",
                 threads: int | None = None, progress: bool = True,
                 callbacks: Sequence[Callback] = ()) -> tuple[Trainer, Placement]:  # fmt: skip
    """A trainer for ``model`` placed on its device, reporting progress when asked."""
    placement, network = place(model, config, device, threads)
    shown = [ProgressBar()] if progress else []
    trainer = Trainer(model, config, placement.device, network, placement.world,
                      [*shown, *callbacks])  # fmt: skip
    return trainer, placement


def fit(
    trainer: Trainer, placement: Placement, train: Split, valid: Split | None = None
) -> list[dict]:
    """``trainer.fit`` with the placement's CPU threads."""
    with cpu_threads(placement):
        return trainer.fit(train, valid)
