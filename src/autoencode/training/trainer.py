"""A model-agnostic trainer: it knows of a model only what ``Trainable`` says (named loss terms,
whether it takes labels, its memory format).

Epochs shuffle the uint8 images with one ``randperm``, slice batches (from memory, or gathered from
a memory-mapped file) and convert them on the device; validation runs in large batches under ``inference_mode``. Where the model runs (device,
process group, DDP wrapper) is set up before, by ``training.setup``; what happens around the loop
(progress, the run folder) is callbacks.
"""

from __future__ import annotations

import contextlib
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
from autoencode.training.preemption import Every, Preempted, StopRequest


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
        self.stop_request = StopRequest()  # set by SIGTERM / SIGUSR1 (``stop_request.handling()``)
        self.checkpoint_every: Every | None = None  # checkpoints inside an epoch, how often
        self.position: dict | None = None  # where inside an epoch a resumed run goes on

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
                if self._agreed()[0]:  # between epochs: the last one is saved
                    raise Preempted(self.stop_request.signal_name, self.epoch + 1, 0)
                before = (self.position or {}).get("elapsed", 0.0)  # of an epoch resumed inside
                start = self._epoch_start = time.perf_counter() - before
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

    def _agreed(self, due: bool = False) -> tuple[bool, bool]:
        """Whether to stop (a signal came to any rank: each takes its number) and whether a
        checkpoint is due on any rank; under torchrun every rank stops at one step."""
        number, due = distributed.max_over_ranks([self.stop_request.number, int(due)],
                                                 self.world, self.device)  # fmt: skip
        if number:  # another rank's signal; never a write of 0 over one that just came here
            self.stop_request.number = number
        return bool(number), bool(due)

    def _train_epoch(self, tensors: list[torch.Tensor]) -> dict:
        self.model.train()
        if self.world.size > 1 and not self.position:  # each rank its own sampling noise
            torch.manual_seed(
                stream_seed(self.config.seed, f"rank {self.world.rank} epoch {self.epoch}")
            )
        images, targets = tensors[0], tensors[1:]
        resumed, self.position = self.position, None
        order_state = resumed["order"] if resumed else self.shuffle.get_state()
        self.shuffle.set_state(order_state)  # the same order again when resumed inside the epoch
        epoch_order = torch.randperm(len(images), generator=self.shuffle)
        order = distributed.shard(epoch_order, self.world).to(self.device)  # this process's share
        n, bs = len(order), self.config.batch_size
        steps = math.ceil(n / bs)
        sums: dict[str, torch.Tensor] = {}
        if resumed:
            sums = self._restore_position(resumed)
        self._call("on_epoch_start", steps)
        last_checkpoint = time.perf_counter()
        for step, start in enumerate(range(0, n, bs), 1):
            if resumed and step <= resumed["step"]:
                continue
            if self.config.schedule != "constant":
                rate = self.config.lr_at(self.epoch * steps + step - 1, self.config.epochs * steps)
                for group in self.optimizer.param_groups:
                    group["lr"] = rate
            batch = order[start : start + bs]
            self._step(to_float(images[batch], self.dtype), [t[batch] for t in targets], sums)
            self._call("on_batch_end", step, min(start + bs, n), sums)
            last_checkpoint = self._after_step(step, steps, sums, order_state, last_checkpoint)
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

    def _step(self, x: torch.Tensor, targets: list[torch.Tensor], sums: dict) -> None:
        """One optimizer step on a batch; its loss terms added to ``sums`` (weighted by the
        batch's size, summed on the device)."""
        with self._precision():
            out = self.network(x, *targets)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        self.optimizer.step()
        for name, value in out.losses.items():
            if name in sums:
                sums[name].add_(value.detach(), alpha=len(x))
            else:
                sums[name] = value.detach() * len(x)

    def _precision(self) -> contextlib.AbstractContextManager:
        """The forward pass's precision: bf16 autocast when asked (validation stays float32)."""
        if self.config.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _after_step(self, step: int, steps: int, sums: dict, order_state: torch.Tensor,
                    last_checkpoint: float) -> float:  # fmt: skip
        """A checkpoint inside the epoch when one is due or a signal came (then ``Preempted``);
        returns when the last checkpoint was written."""
        every = self.checkpoint_every
        due = every is not None and every.due(self.epoch * steps + step, last_checkpoint)
        stop, due = self._agreed(due)
        if step == steps:  # the epoch's end writes its own checkpoint, and a stop waits for it
            return last_checkpoint
        if stop or due:
            self._checkpoint_inside(step, sums, order_state)
            last_checkpoint = time.perf_counter()
        if stop:
            distributed.barrier(self.world)  # no process leaves while rank 0 still writes
            raise Preempted(self.stop_request.signal_name, self.epoch + 1, step)
        return last_checkpoint

    def _checkpoint_inside(self, step: int, sums: dict, order_state: torch.Tensor) -> None:
        """A checkpoint after ``step`` of the epoch: the state, and where in the epoch it is
        (the epoch's order, each rank's RNG state and loss sums so far)."""
        local = {"rng": torch.get_rng_state(),
                 "sums": {name: value.detach().cpu() for name, value in sums.items()}}  # fmt: skip
        if self.device.type == "cuda":
            local["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        ranks = distributed.gather(local, self.world)
        tensors = {"position.order": order_state}
        for rank, held in enumerate(ranks):
            tensors[f"position.rng.{rank}"] = held["rng"]
            if "rng.cuda" in held:
                tensors[f"position.rng_cuda.{rank}"] = held["rng.cuda"]
            tensors |= {f"position.sums.{rank}.{k}": v.reshape(1) for k, v in held["sums"].items()}
        meta = {"epoch": self.epoch + 1, "step": step, "ranks": self.world.size,
                "terms": list(sums), "elapsed": time.perf_counter() - self._epoch_start}  # fmt: skip
        self._call("on_checkpoint", tensors, meta)

    def _restore_position(self, position: dict) -> dict[str, torch.Tensor]:
        """This rank's RNG state and loss sums where the checkpoint left the epoch."""
        rank = self.world.rank
        torch.set_rng_state(position["rng"][rank])
        if position.get("rng_cuda") and self.device.type == "cuda":
            torch.cuda.set_rng_state(position["rng_cuda"][rank], self.device)
        held = position["sums"][rank]
        return {name: value.to(self.device).reshape(()) for name, value in held.items()}

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
        self.position = read_position(tensors, meta.get("position"), len(history), self.world)


def read_position(tensors: dict[str, torch.Tensor], meta, finished: int, world) -> dict | None:
    """Where inside an epoch a checkpoint was written (None: at an epoch's end), checked
    against the history it comes with and the processes resuming it; a ValueError if it does
    not fit."""
    if meta is None:
        return None
    if not isinstance(meta, dict) or meta.get("epoch") != finished + 1:
        raise ValueError(f"its position inside an epoch does not follow its {finished} epochs")
    ranks, terms = meta.get("ranks"), meta.get("terms")
    if ranks != world.size:
        raise ValueError(f"it was written by {ranks} processes; resume it with as many, "
                         f"not {world.size}")  # fmt: skip
    if not isinstance(meta.get("step"), int) or meta["step"] < 1 or not isinstance(terms, list):
        raise ValueError("its position inside an epoch is malformed")
    try:
        return {
            "epoch": meta["epoch"], "step": meta["step"], "elapsed": float(meta.get("elapsed", 0)),
            "order": tensors["position.order"],
            "rng": [tensors[f"position.rng.{r}"] for r in range(ranks)],
            "rng_cuda": [tensors[f"position.rng_cuda.{r}"] for r in range(ranks)
                         if f"position.rng_cuda.{r}" in tensors],
            "sums": [{t: tensors[f"position.sums.{r}.{t}"] for t in terms} for r in range(ranks)],
        }  # fmt: skip
    except KeyError as e:
        raise ValueError(f"it lacks {e.args[0]}") from None
