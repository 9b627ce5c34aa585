"""What the trainer calls as it goes: progress on screen, early stopping, the run folder's
writer, any user hook.

A callback implements any of the hooks below; the trainer calls them in list order on the
process that writes (rank 0 under torchrun).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from tqdm.auto import tqdm


class Callback:
    """Hooks with nothing in them; subclasses override the ones they need."""

    def on_fit_start(self, trainer) -> None: ...

    def on_epoch_start(self, trainer, steps: int) -> None: ...

    def on_batch_end(self, trainer, step: int, samples: int, sums: dict) -> None: ...

    def on_epoch_end(self, trainer, row: dict) -> None: ...

    def on_fit_end(self, trainer) -> None: ...

    def on_checkpoint(self, trainer, tensors: dict, position: dict) -> None:
        """A checkpoint inside an epoch is due (``tensors`` and ``position`` say where)."""

    def on_exception(self, trainer, error: BaseException) -> None:
        """Training stopped on ``error`` (Ctrl-C included); the trainer re-raises it after."""


class ProgressBar(Callback):
    """A progress bar per epoch (the running loss every 100 steps) and one line per finished epoch."""

    def __init__(self):
        self.bar = None

    def on_epoch_start(self, trainer, steps: int) -> None:
        epochs = trainer.config.epochs
        self.bar = tqdm(total=steps, desc=f"epoch {trainer.epoch + 1}/{epochs}", leave=False,
                        unit="batch", mininterval=0.5, disable=None)  # fmt: skip

    def on_batch_end(self, trainer, step: int, samples: int, sums: dict) -> None:
        if step % 100 == 0:  # reading the sums waits for the device: not every step
            loss = sum(float(s) for s in sums.values()) / samples
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        self.bar.update()

    def on_epoch_end(self, trainer, row: dict) -> None:
        self.bar.close()
        terms = "  ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds"))
        epochs = trainer.config.epochs
        tqdm.write(f"epoch {row['epoch']}/{epochs}  {terms}  ({row['seconds']:.1f} s)")


class EarlyStopping(Callback):
    """Every ``every`` epochs (and after the last), ``score(model)`` (higher is better: the
    validation accuracy, say); keeps the best weights, and stops the trainer after ``patience``
    checks without a gain."""

    def __init__(self, score: Callable[[object], float], every: int, patience: int):
        self.score, self.every, self.patience = score, every, patience
        self.best, self.best_epoch, self.waited, self.state = -1.0, 0, 0, None

    def on_epoch_end(self, trainer, row: dict) -> None:
        epoch = row["epoch"]
        if epoch % self.every and epoch < trainer.config.epochs:
            return
        score = self.score(trainer.model)
        if score > self.best:
            self.best, self.best_epoch, self.waited = score, epoch, 0
            self.state = copy.deepcopy(trainer.model.state_dict())
        else:
            self.waited += 1
            trainer.stop = self.waited >= self.patience
