"""Named, documented configurations. The seed's exact ones come first and are never changed.

A preset is a model config plus training settings; every field can be overridden when training.
"""

from __future__ import annotations

from dataclasses import dataclass

from autoencode.errors import ConfigError
from autoencode.models.base import ModelConfig
from autoencode.models.stacked import StackedConfig
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
    ]
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name is a ConfigError listing the known ones."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: expected one of {', '.join(PRESETS)}")
    return PRESETS[name]
