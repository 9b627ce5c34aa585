"""A model-agnostic trainer: it knows of a model only what ``Trainable`` says (named loss terms,
whether it takes labels, its memory format).

Epochs shuffle the uint8 images with one ``randperm``, slice batches (from memory, or gathered from
a memory-mapped file) and convert them on the device; validation runs in large batches under ``inference_mode``. Where the model runs (device,
process group, DDP wrapper) is set up before, by ``training.setup``; what happens around the loop
(progress, the run folder) is callbacks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch

from autoencode.data.batches import images_on, to_float
from autoencode.data.types import Split
from autoencode.errors import AutoencodeError
from autoencode.models.base import Trainable
from autoencode.training import distributed
from autoencode.training.callbacks import Callback
from autoencode.training.config import TrainingConfig
from autoencode.training.optimizer_state import (
    check_history,
    check_optimizer_state,
    flatten_optimizer_state,
    unflatten_optimizer_state,
)


def stream_seed(seed: int, stream: str) -> int:
    """An independent seed for one use of randomness, derived from the run's one seed.

    The weights are drawn from torch's global generator seeded with ``seed``; a shuffling
    generator seeded with the same number would replay the very same random stream, making the
    first epoch's order a function of the initial weights.
    """
    entropy = [seed & 0xFFFFFFFF, *stream.encode()]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> 1)


class TrainingDiverged(AutoencodeError):
    """The loss became NaN or infinite."""


@torch.inference_mode()
def evaluate_losses(model: Trainable, tensors: list[torch.Tensor], batch_size: int = 1000) -> dict:
    """Each loss term averaged over a split's tensors (uint8 images first, then any targets)."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    n, dtype = len(tensors[0]), next(model.parameters()).dtype
    for start in range(0, n, batch_size):
        x = to_float(tensors[0][start : start + batch_size], dtype)
        targets = [t[start : start + batch_size] for t in tensors[1:]]
        for name, value in model(x, *targets).losses.items():
            sums[name] = sums.get(name, 0.0) + float(value) * len(x)
    model.train(was_training)
    return loss_row({name: total / n for name, total in sums.items()})


def split_tensors(split: Split, device: torch.device, takes_labels: bool) -> list:
    """The uint8 ``(N, C, H, W)`` images on ``device`` (memory-mapped ones gathered batch by
    batch), then the labels for a model that takes them."""
    tensors = [images_on(split.images, device)]
    if takes_labels:
        if split.labels is None:
            raise AutoencodeError("this model learns from labels, and the split has none")
        tensors.append(torch.as_tensor(split.labels, dtype=torch.long, device=device))
    return tensors


def loss_row(means: dict[str, float]) -> dict[str, float]:
    """``loss`` (the sum), then each named term when there is more than one."""
    total = sum(means.values())
    return {"loss": total, **means} if len(means) > 1 else {"loss": total}


class Trainer:
    """Trains ``model`` with ``config``; ``fit`` may be called again to continue (resume).

    ``model`` is already on ``device``; ``network`` is what training steps call (the model, or its
    DDP wrapper under torchrun). ``history`` holds one dict per finished epoch: ``epoch``,
    ``loss`` (and each named term when there are several), the same prefixed ``val_``, ``seconds``.
    """

    def __init__(self, model: Trainable, config: TrainingConfig, device: torch.device,
                 network: torch.nn.Module | None = None, world: distributed.World = distributed.SINGLE,
                 callbacks: Sequence[Callback] = ()):  # fmt: skip
        self.model, self.config, self.device, self.world = model, config, device, world
        self.network = network or model
        self.dtype = next(model.parameters()).dtype  # batches in the weights' precision
        self.callbacks = list(callbacks)
        self.optimizer = config.make_optimizer(model.parameters())
        self.shuffle = torch.Generator().manual_seed(stream_seed(config.seed, "shuffle"))
        self.history: list[dict] = []
        self.stop = False  # a callback sets it to end training after this epoch
        self.run_path = None  # the run folder being written, where there is one (for loggers)

    @property
    def epoch(self) -> int:
        """Epochs finished so far."""
        return len(self.history)

    def _call(self, hook: str, *args) -> None:
        if self.world.main:  # only rank 0 reports and writes
            for callback in self.callbacks:
                if method := getattr(callback, hook, None):  # a callback defines the hooks it uses
                    method(self, *args)

    def fit(self, train: Split, valid: Split | None = None) -> list[dict]:
        """Train until ``config.epochs`` epochs are done (or a callback sets ``stop``); returns
        the history."""
        labels = self.model.takes_labels
        train_tensors = split_tensors(train, self.device, labels)
        valid_tensors = None if valid is None else split_tensors(valid, self.device, labels)
        self._call("on_fit_start")
        self.stop = False
        try:
            while self.epoch < self.config.epochs and not self.stop:
                start = time.perf_counter()
                row = {"epoch": self.epoch + 1, **self._train_epoch(train_tensors)}
                if valid_tensors is not None:
                    val = evaluate_losses(self.model, valid_tensors)
                    row.update({f"val_{k}": v for k, v in val.items()})
                row["seconds"] = time.perf_counter() - start
                self._check_finite(row)
                self.history.append(row)
                self._call("on_epoch_end", row)
        except BaseException as error:  # Ctrl-C too: a logger marks its run as stopped
            self._call("on_exception", error)
            raise
        self._call("on_fit_end")
        distributed.barrier(self.world)  # the last epoch is saved before anyone reads it
        return self.history

    def _train_epoch(self, tensors: list[torch.Tensor]) -> dict:
        self.model.train()
        if self.world.size > 1:  # each rank its own sampling noise, from (seed, rank, epoch)
            torch.manual_seed(
                stream_seed(self.config.seed, f"rank {self.world.rank} epoch {self.epoch}")
            )
        images, targets = tensors[0], tensors[1:]
        epoch_order = torch.randperm(len(images), generator=self.shuffle)
        order = distributed.shard(epoch_order, self.world).to(self.device)  # this process's share
        n, bs = len(order), self.config.batch_size
        steps = math.ceil(n / bs)
        sums: dict[str, torch.Tensor] = {}
        self._call("on_epoch_start", steps)
        for step, start in enumerate(range(0, n, bs), 1):
            if self.config.schedule != "constant":
                rate = self.config.lr_at(self.epoch * steps + step - 1, self.config.epochs * steps)
                for group in self.optimizer.param_groups:
                    group["lr"] = rate
            batch = order[start : start + bs]
            x = to_float(images[batch], self.dtype)
            out = self.network(x, *(t[batch] for t in targets))
            loss = out.loss
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            for name, value in out.losses.items():  # weighted by batch size, summed on device
                if name in sums:
                    sums[name].add_(value.detach(), alpha=len(x))
                else:
                    sums[name] = value.detach() * len(x)
            self._call("on_batch_end", step, min(start + bs, n), sums)
        totals = distributed.sum_over_ranks(torch.stack(list(sums.values())), self.world)
        count = n * self.world.size
        return loss_row({name: float(t) / count for name, t in zip(sums, totals, strict=True)})

    def _check_finite(self, row: dict) -> None:
        if not all(math.isfinite(v) for k, v in row.items() if k != "epoch"):
            raise TrainingDiverged(
                f"the loss became {row['loss']} in epoch {row['epoch']}; "
                "try a smaller {parameter} (the last finite epoch is kept)",
                parameter="lr",
            )

    # -- resume -----------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """Everything needed to continue exactly: tensors (optimizer, RNG) and JSON-able metadata."""
        tensors, optimizer_meta = flatten_optimizer_state(self.optimizer.state_dict())
        tensors["rng.shuffle"] = self.shuffle.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        return tensors, {"history": self.history, "optimizer": optimizer_meta}

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Continue from ``state()``'s output; one that does not fit is a ValueError."""
        history = check_history(meta["history"])
        optimizer_state = unflatten_optimizer_state(tensors, meta["optimizer"])
        check_optimizer_state(optimizer_state, self.optimizer)
        self.optimizer.load_state_dict(optimizer_state)
        self.shuffle.set_state(tensors["rng.shuffle"])
        torch.set_rng_state(tensors["rng.torch"])
        if "rng.cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.history = history
