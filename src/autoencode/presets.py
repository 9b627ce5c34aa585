"""Named, documented configurations. The seed's exact ones come first and are never changed.

A preset is a model config plus training settings; every field can be overridden when training.
"""

from __future__ import annotations

from dataclasses import dataclass

from autoencode.errors import ConfigError
from autoencode.models.base import ModelConfig
from autoencode.models.conv import ConvConfig
from autoencode.models.stacked import StackedConfig
from autoencode.models.variational import VAEConfig
from autoencode.training.config import TrainingConfig


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: ModelConfig
    training: TrainingConfig


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "stacked",
            "The seed's stacked autoencoder: 784→100→30 (SELU) | 30→100 (linear)→784 (sigmoid); "
            "BCE, SGD lr 1.5, batch 32, 10 epochs.",
            StackedConfig(),
            TrainingConfig(epochs=10, batch_size=32, optimizer="sgd", lr=1.5),
        ),
        Preset(
            "conv",
            "The seed's convolutional autoencoder: Conv2D 16/32/64 (SELU) + max-pool to 3×3×64 | "
            "Conv2DTranspose 32/16/1. The seed gives no training settings: the stacked AE's "
            "(BCE, SGD lr 1.5, batch 32), for 5 epochs.",
            ConvConfig(),
            TrainingConfig(epochs=5, batch_size=32, optimizer="sgd", lr=1.5),
        ),
        Preset(
            "vae",
            "The seed's variational autoencoder: 784→150→100 (SELU)→10-d Gaussian codings | "
            "10→100→150→784 (sigmoid); BCE + KL/784, RMSprop (Keras' lr 1e-3, rho 0.9, eps 1e-7), "
            "batch 128, 50 epochs.",
            VAEConfig(),
            TrainingConfig(
                epochs=50,
                batch_size=128,
                optimizer="rmsprop",
                lr=1e-3,
                optimizer_options={"rho": 0.9, "eps": 1e-7},
            ),
        ),
    ]
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name is a ConfigError listing the known ones."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: expected one of {', '.join(PRESETS)}")
    return PRESETS[name]
