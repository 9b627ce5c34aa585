"""A model-agnostic trainer: it knows only that ``model(x).losses`` are terms to minimise.

Epochs shuffle the in-memory uint8 images with one ``randperm``, slice batches and convert them on
the device; validation runs in large batches under ``inference_mode``. After each epoch the
callbacks run (the run folder uses one to save weights, history and a resumable checkpoint).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from autoencode.data.datasets import Split
from autoencode.errors import AutoencodeError
from autoencode.models.base import Autoencoder
from autoencode.training import distributed
from autoencode.training.batches import image_tensor, to_float
from autoencode.training.config import TrainingConfig
from autoencode.training.device import auto_threads, resolve_device


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
def evaluate_losses(
    model: Autoencoder, tensors: list[torch.Tensor], batch_size: int = 1000
) -> dict:
    """Each loss term averaged over a split's tensors (uint8 images first, then any targets)."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    n = len(tensors[0])
    for start in range(0, n, batch_size):
        x = to_float(tensors[0][start : start + batch_size])
        targets = [t[start : start + batch_size] for t in tensors[1:]]
        for name, value in model(x, *targets).losses.items():
            sums[name] = sums.get(name, 0.0) + float(value) * len(x)
    model.train(was_training)
    return loss_row({name: total / n for name, total in sums.items()})


def split_tensors(split: Split, device: torch.device, supervised: bool) -> list[torch.Tensor]:
    """The uint8 ``(N, C, H, W)`` images on ``device``, then the labels for a supervised model."""
    tensors = [image_tensor(split.images, device)]
    if supervised:
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

    ``history`` holds one dict per finished epoch: ``epoch``, ``loss`` (and each named term when
    there are several), the same prefixed ``val_`` and ``seconds``.
    """

    def __init__(self, model: Autoencoder, config: TrainingConfig, device: str = "auto",
                 threads: int | None = None, progress: bool = True,
                 callbacks: Sequence[Callable[[Trainer], None]] = ()):  # fmt: skip
        self.config = config
        self.world, self.device = distributed.join(resolve_device(device))
        self.model = model.to(self.device, memory_format=model.memory_format)
        self.network = self.model  # what training steps call: the model, or its DDP wrapper
        if self.world.size > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.network = DistributedDataParallel(
                self.model, device_ids=ids
            )  # broadcasts rank 0's weights
            torch.manual_seed(
                stream_seed(config.seed, f"rank {self.world.rank}")
            )  # own sampling noise
        self.threads = threads or auto_threads(model, config.batch_size)
        self.progress = progress and self.world.main
        self.callbacks = list(callbacks)
        self.optimizer = config.make_optimizer(self.model.parameters())
        self.shuffle = torch.Generator().manual_seed(stream_seed(config.seed, "shuffle"))
        self.history: list[dict] = []

    @property
    def epoch(self) -> int:
        """Epochs finished so far."""
        return len(self.history)

    def fit(self, train: Split, valid: Split | None = None) -> list[dict]:
        """Train until ``config.epochs`` epochs are done; returns the history."""
        previous_threads = torch.get_num_threads()
        if self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        try:
            supervised = getattr(self.model, "supervised", False)
            train_tensors = split_tensors(train, self.device, supervised)
            valid_tensors = None if valid is None else split_tensors(valid, self.device, supervised)
            while self.epoch < self.config.epochs:
                start = time.perf_counter()
                row = {"epoch": self.epoch + 1, **self._train_epoch(train_tensors)}
                if valid_tensors is not None:
                    val = evaluate_losses(self.model, valid_tensors)
                    row.update({f"val_{k}": v for k, v in val.items()})
                row["seconds"] = time.perf_counter() - start
                self._check_finite(row)
                self.history.append(row)
                self._report(row)
                if self.world.main:  # only rank 0 writes
                    for callback in self.callbacks:
                        callback(self)
            distributed.barrier(self.world)  # the last epoch is saved before anyone reads it
        finally:
            torch.set_num_threads(previous_threads)
        return self.history

    def _train_epoch(self, tensors: list[torch.Tensor]) -> dict:
        self.model.train()
        images, targets = tensors[0], tensors[1:]
        epoch_order = torch.randperm(len(images), generator=self.shuffle)
        order = distributed.shard(epoch_order, self.world).to(self.device)  # this process's share
        n, bs = len(order), self.config.batch_size
        sums: dict[str, torch.Tensor] = {}
        bar = tqdm(total=math.ceil(n / bs), desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
                   disable=None if self.progress else True, leave=False, unit="batch", mininterval=0.5)  # fmt: skip
        for step, start in enumerate(range(0, n, bs), 1):
            batch = order[start : start + bs]
            x = to_float(images[batch])
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
            if self.progress and step % 100 == 0:
                done = min(start + bs, n)
                bar.set_postfix(
                    loss=f"{sum(float(s) for s in sums.values()) / done:.4f}", refresh=False
                )
            bar.update()
        bar.close()
        totals = distributed.sum_over_ranks(torch.stack(list(sums.values())), self.world)
        count = n * self.world.size
        return loss_row(
            {name: float(total) / count for name, total in zip(sums, totals, strict=True)}
        )

    def _check_finite(self, row: dict) -> None:
        if not all(math.isfinite(v) for k, v in row.items() if k != "epoch"):
            raise TrainingDiverged(
                f"the loss became {row['loss']} in epoch {row['epoch']}; "
                "try a smaller --lr (the last finite epoch is kept)"
            )

    def _report(self, row: dict) -> None:
        if self.progress:
            terms = "  ".join(
                f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds")
            )
            tqdm.write(
                f"epoch {row['epoch']}/{self.config.epochs}  {terms}  ({row['seconds']:.1f} s)"
            )

    # -- resume -----------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """Everything needed to continue exactly: tensors (optimizer, RNG) and JSON-able metadata."""
        from autoencode.training.checkpoint import flatten_optimizer_state

        tensors, optimizer_meta = flatten_optimizer_state(self.optimizer.state_dict())
        tensors["rng.shuffle"] = self.shuffle.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        return tensors, {"history": self.history, "optimizer": optimizer_meta}

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        from autoencode.training.checkpoint import unflatten_optimizer_state

        self.optimizer.load_state_dict(unflatten_optimizer_state(tensors, meta["optimizer"]))
        self.shuffle.set_state(tensors["rng.shuffle"])
        torch.set_rng_state(tensors["rng.torch"])
        if "rng.cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.history = list(meta["history"])
