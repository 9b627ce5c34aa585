"""What the trackers' callbacks (TensorBoard, MLflow) share: the running losses every few steps,
and the settings of the run as dotted names."""

from __future__ import annotations

from autoencode.training.trainer import loss_row
from autoencode.typed import dotted


class StepLogger:
    """Every ``every`` steps of the run, ``log_steps(trainer, values, step)`` with the running
    mean of each loss term over the epoch so far (``loss`` and the named terms) and ``lr``."""

    every: int = 50
    steps: int = 1  # the steps of an epoch

    def on_epoch_start(self, trainer, steps: int) -> None:
        self.steps = steps

    def on_batch_end(self, trainer, step: int, samples: int, sums: dict) -> None:
        done = trainer.epoch * self.steps + step  # steps since the run began
        if done % self.every == 0:  # reading the sums waits for the device: not every step
            means = loss_row({name: float(total) / samples for name, total in sums.items()})
            means["lr"] = trainer.optimizer.param_groups[0]["lr"]
            self.log_steps(trainer, means, done)

    def log_steps(self, trainer, values: dict, step: int) -> None:
        raise NotImplementedError


def run_settings(trainer) -> dict:
    """The training settings and the model's, as dotted names (``training.lr``,
    ``model.encoder.units``)."""
    settings = dotted(trainer.config.to_dict(), "training")
    if hasattr(trainer.model, "config"):
        settings |= dotted(trainer.model.config.to_dict(), "model")
    return settings
