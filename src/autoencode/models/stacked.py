"""The stacked (fully connected) autoencoder of the seed: 784 → 100 → 30 | 30 → 100 → 784."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from torch import nn

from autoencode.errors import ConfigError
from autoencode.models.base import Autoencoder, ModelConfig, check_sizes, register
from autoencode.models.layers import Dense, check_activation


@dataclass
class StackedConfig(ModelConfig):
    """Layer sizes and activations of a stacked autoencoder.

    The seed's decoder hidden layer has no activation (``Dense(100)``, linear): kept as written.
    """

    kind = "stacked"
    encoder_units: tuple[int, ...] = (100, 30)
    decoder_units: tuple[int, ...] = (100,)
    activation: str = "selu"
    decoder_activation: str = "linear"

    def __post_init__(self):
        super().__post_init__()
        if not self.encoder_units:
            raise ConfigError("encoder_units must name at least one layer")
        check_sizes("encoder_units", self.encoder_units)
        check_sizes("decoder_units", self.decoder_units)
        check_activation(self.activation)
        check_activation(self.decoder_activation)


def dense_stack(sizes: list[int], activation: str) -> list[Dense]:
    return [Dense(a, b, activation) for a, b in itertools.pairwise(sizes)]


@register(StackedConfig)
class StackedAutoencoder(Autoencoder):
    """Dense layers down to a flat coding vector and back up to the image."""

    def __init__(self, config: StackedConfig):
        super().__init__(config)
        pixels = math.prod(config.input_shape)
        codings = config.encoder_units[-1]
        self.encoder = nn.Sequential(
            nn.Flatten(),  # (N, C, H, W) -> (N, C*H*W)
            *dense_stack([pixels, *config.encoder_units], config.activation),
        )
        self.decoder = nn.Sequential(
            *dense_stack([codings, *config.decoder_units], config.decoder_activation),
            Dense(config.decoder_units[-1] if config.decoder_units else codings, pixels),
            nn.Unflatten(1, config.input_shape),  # (N, C*H*W) -> (N, C, H, W) logits
        )
