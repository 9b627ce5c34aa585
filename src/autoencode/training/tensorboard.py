"""A trainer callback that writes TensorBoard's event files (the optional ``tensorboard`` package).

epoch/<term>, epoch/val_<term>, epoch/lr   every named loss term after each epoch
step/<term>, step/lr                       the running means every ``every`` steps
reconstructions                            validation images above their reconstructions
hparams                                    the training settings with the last epoch's losses
codings (the Projector)                    validation codings with their images and labels

tensorboard --logdir DIR
"""

from __future__ import annotations

from pathlib import Path

import torch

from autoencode.data.batches import apply_in_batches, image_tensor, to_float
from autoencode.data.types import Split
from autoencode.errors import AutoencodeError
from autoencode.training.tracking import StepLogger, run_settings


class TensorBoardLogger(StepLogger):
    """Writes a run's training to TensorBoard in ``log_dir``; ``valid`` (the validation split)
    gives the reconstructions (``images`` of them) and the Projector's codings (``embed``)."""

    def __init__(self, log_dir: str | Path, valid: Split | None = None, *, every: int = 50,
                 images: int = 16, embed: int = 1000):  # fmt: skip
        self.log_dir, self.valid = Path(log_dir), valid
        self.every, self.images, self.embed = every, images, embed
        self.writer = None

    def on_fit_start(self, trainer) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise AutoencodeError("the TensorBoard logger needs the tensorboard package: "
                                  "pip install tensorboard (the [tensorboard] extra)") from None  # fmt: skip
        self.writer = SummaryWriter(str(self.log_dir))

    def log_steps(self, trainer, values: dict, step: int) -> None:
        for name, value in values.items():  # loss, each named term where there are several, lr
            self.writer.add_scalar(f"step/{name}", value, step)

    def on_epoch_end(self, trainer, row: dict) -> None:
        epoch = row["epoch"]
        for name, value in row.items():
            if name != "epoch":
                self.writer.add_scalar(f"epoch/{name}", value, epoch)
        self.writer.add_scalar("epoch/lr", trainer.optimizer.param_groups[0]["lr"], epoch)
        if self.valid is not None and self.images:
            self.writer.add_image("reconstructions", self._grid(trainer.model), epoch)
        self.writer.flush()

    def on_fit_end(self, trainer) -> None:
        last = trainer.history[-1] if trainer.history else {}
        settings = {k: v if isinstance(v, (int, float, str, bool)) else str(v)
                    for k, v in run_settings(trainer).items()}  # fmt: skip
        metrics = {f"hparam/{k}": v for k, v in last.items() if k not in ("epoch", "seconds")}
        self.writer.add_hparams(settings, metrics, run_name="hparams")
        if self.valid is not None and self.embed:
            self._codings(trainer.model, trainer.epoch)
        self.writer.close()

    def on_exception(self, trainer, error: BaseException) -> None:
        if self.writer is not None:
            self.writer.close()  # what was logged stays readable

    @torch.inference_mode()
    def _grid(self, model) -> torch.Tensor:
        """The first validation images above their reconstructions, one (C, 2H, N·W) image."""
        was_training = model.training
        x = to_float(
            image_tensor(self.valid.images[: self.images], next(model.parameters()).device)
        )
        y = model.eval().reconstruct(x.to(next(model.parameters()).dtype))
        model.train(was_training)
        return torch.cat([torch.cat(list(x.cpu()), -1), torch.cat(list(y.float().cpu()), -1)], 1)

    def _codings(self, model, epoch: int) -> None:
        images = self.valid.images[: self.embed]
        was_training = model.training
        codings = apply_in_batches(model.eval().encode, images, next(model.parameters()).device)
        model.train(was_training)
        labels = self.valid.labels[: self.embed].tolist() if self.valid.labels is not None else None
        thumbnails = to_float(image_tensor(images, torch.device("cpu")))
        self.writer.add_embedding(codings.flatten(1), metadata=labels, label_img=thumbnails,
                                  global_step=epoch, tag="codings")  # fmt: skip
