"""Training settings (typed, validated when built) and the optimizer registry."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

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


@dataclass
class TrainingConfig:
    """How a model is trained. The defaults are the seed's stacked autoencoder's."""

    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float = 1.5
    optimizer_options: dict = field(default_factory=dict)
    seed: int = 42

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"unknown optimizer {self.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}"
            )
        if not isinstance(self.seed, int):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        try:
            return OPTIMIZERS[self.optimizer](params, self.lr, **self.optimizer_options)
        except TypeError as e:
            raise ConfigError(f"bad options for optimizer {self.optimizer!r}: {e}") from None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainingConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        if unknown := set(data) - names:
            raise ConfigError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
        return cls(**data)
