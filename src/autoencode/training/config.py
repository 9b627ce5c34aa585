"""Training settings (typed, validated when built) and the optimizer registry."""

from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import dataclass, field

import torch

from autoencode import typed
from autoencode.errors import ConfigError


def _sgd(params, lr, momentum=0.0, nesterov=False):
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov)


def _rmsprop(params, lr, rho=0.9, eps=1e-7, momentum=0.0):
    # Keras' defaults: rho 0.9 (torch calls it alpha), epsilon 1e-7 (torch's default is 1e-8).
    return torch.optim.RMSprop(params, lr=lr, alpha=rho, eps=eps, momentum=momentum)


def _adam(params, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
    return torch.optim.Adam(params, lr=lr, betas=(beta_1, beta_2), eps=eps)


def _adamw(params, lr, beta_1=0.9, beta_2=0.999, eps=1e-7, weight_decay=0.004):
    return torch.optim.AdamW(
        params, lr=lr, betas=(beta_1, beta_2), eps=eps, weight_decay=weight_decay
    )


OPTIMIZERS = {"sgd": _sgd, "rmsprop": _rmsprop, "adam": _adam, "adamw": _adamw}
SCHEDULES = ("constant", "onecycle")
# bf16: the forward pass under torch.autocast in bfloat16 (matrix products and convolutions;
# the loss, the weights, their gradients and the optimizer stay float32)
PRECISIONS = ("float32", "bf16")
# torch.optim.lr_scheduler.OneCycleLR's defaults: a quarter-cosine up from lr / 25 over the first
# 30% of the steps, then down to lr / 25 / 1e4 at the last
ONECYCLE = {"warmup": 0.3, "div": 25.0, "final_div": 1e4}


@dataclass
class TrainingConfig:
    """How a model is trained. The defaults are the seed's stacked autoencoder's."""

    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float = 1.5
    optimizer_options: dict = field(default_factory=dict)
    seed: int = 42
    freeze: tuple[str, ...] = ()  # parameters (names, or their prefixes) kept as they are
    schedule: str = "constant"  # the learning rate over the steps: constant, or onecycle
    precision: str = "float32"  # float32, or bf16 (autocast: see PRECISIONS)

    def __post_init__(self):
        typed.check_fields(self)
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"{{parameter}} must be a positive integer, got {getattr(self, name)}",
                    parameter=name,
                )
        if not 0 < self.lr < 1e30:  # float32 holds up to 3e38; any useful rate is far below
            raise ConfigError(
                f"{{parameter}} must be a positive number below 1e30, got {self.lr}", parameter="lr"
            )
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown {{parameter}} {self.schedule!r}: expected one of "
                              f"{', '.join(SCHEDULES)}", parameter="schedule")  # fmt: skip
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown {{parameter}} {self.precision!r}: expected one of "
                              f"{', '.join(PRECISIONS)}", parameter="precision")  # fmt: skip
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown {{parameter}} {self.optimizer!r}: expected one of "
                              f"{', '.join(OPTIMIZERS)}", parameter="optimizer")  # fmt: skip
        self._check_options()

    def _check_options(self) -> None:
        """Options the optimizer takes, each a number (or true/false)."""
        known = list(inspect.signature(OPTIMIZERS[self.optimizer]).parameters)[2:]
        for key, value in self.optimizer_options.items():
            if key not in known or not isinstance(value, (int, float)):
                raise ConfigError(
                    f"{{parameter}}: {self.optimizer} takes {', '.join(known)} (numbers), "
                    f"got {key!r}: {value!r}",
                    parameter="optimizer_options",
                )

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        try:
            return OPTIMIZERS[self.optimizer](params, self.lr, **self.optimizer_options)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"bad options for optimizer {self.optimizer!r}: {e}") from None

    def lr_at(self, step: int, total: int) -> float:
        """The learning rate of step ``step`` (from 0) of ``total``: a function of the two alone,
        so a resumed run continues on the same curve. ``onecycle`` is torch's ``OneCycleLR``
        (cosine annealing, its defaults)."""
        if self.schedule == "constant":
            return self.lr
        start, low = self.lr / ONECYCLE["div"], self.lr / ONECYCLE["div"] / ONECYCLE["final_div"]
        peak = ONECYCLE["warmup"] * total - 1
        if step <= peak:
            begin, end, fraction = start, self.lr, step / peak if peak > 0 else 1.0
        else:
            last = total - 1
            begin, end, fraction = self.lr, low, (step - peak) / (last - peak)
        return end + (begin - end) / 2 * (math.cos(math.pi * min(fraction, 1.0)) + 1)

    def with_overrides(self, **overrides) -> TrainingConfig:
        """These settings with some changed. A different optimizer starts from its own defaults:
        the options of the one it replaces (RMSprop's rho, say) are not carried over."""
        if unknown := set(overrides) - {f.name for f in dataclasses.fields(self)}:
            raise ConfigError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
        changed = {k: v for k, v in overrides.items() if v is not None}
        if changed.get("optimizer", self.optimizer) != self.optimizer:
            changed.setdefault("optimizer_options", {})
        return dataclasses.replace(self, **changed)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainingConfig:
        return typed.from_dict(cls, data, "training")
