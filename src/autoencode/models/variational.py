"""The variational autoencoder of the seed: codings are sampled from a learned Gaussian.

Loss = binary cross-entropy averaged over pixels + the batch mean of the KL divergence from
N(0, I) divided by the number of pixels (784 for Fashion-MNIST): exactly the seed's scaling,
reported as two named terms, ``reconstruction`` and ``kl``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from autoencode.errors import ConfigError
from autoencode.models.base import (
    Autoencoder,
    ModelConfig,
    Output,
    check_sizes,
    reconstruction_loss,
    register,
)
from autoencode.models.layers import Dense, check_activation
from autoencode.models.stacked import dense_stack


@dataclass
class VAEConfig(ModelConfig):
    """Hidden sizes (the decoder mirrors them), codings size, and a weight on the KL term."""

    kind = "vae"
    hidden: tuple[int, ...] = (150, 100)
    codings: int = 10
    activation: str = "selu"
    kl_weight: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        if not self.hidden:
            raise ConfigError("hidden must name at least one layer")
        check_sizes("hidden", self.hidden)
        check_sizes("codings", (self.codings,))
        if self.kl_weight < 0:
            raise ConfigError(f"kl_weight must be >= 0, got {self.kl_weight}")
        check_activation(self.activation)


@register(VAEConfig)
class VariationalAutoencoder(Autoencoder):
    """Encoder to (mean, log-variance); ``forward`` samples codings; ``encode`` gives the mean."""

    generative = True

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        pixels, act = math.prod(config.input_shape), config.activation
        self.encoder = nn.Sequential(nn.Flatten(), *dense_stack([pixels, *config.hidden], act))
        self.mean = Dense(config.hidden[-1], config.codings)
        self.log_var = Dense(config.hidden[-1], config.codings)
        self.decoder = nn.Sequential(
            *dense_stack([config.codings, *reversed(config.hidden)], act),
            Dense(config.hidden[0], pixels),
            nn.Unflatten(1, config.input_shape),  # logits (N, C, H, W)
        )

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the codings' Gaussian, each (N, codings)."""
        h = self.encoder(x)
        return self.mean(h), self.log_var(h)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_distribution(x)[0]

    def encoder_network(self) -> nn.Module:
        return nn.Sequential(self.encoder, self.mean)  # the codings' mean

    def forward(self, x: torch.Tensor) -> Output:
        mean, log_var = self.encode_distribution(x)
        z = mean + torch.exp(log_var / 2) * torch.randn_like(mean)  # the seed's Sampling layer
        logits = self.decode_logits(z)
        kl = -0.5 * torch.sum(1 + log_var - log_var.exp() - mean.square(), dim=-1)
        pixels = math.prod(self.config.input_shape)
        losses = {
            "reconstruction": reconstruction_loss(logits, x),
            "kl": self.config.kl_weight * kl.mean() / pixels,
        }
        return Output(logits, z, losses)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` new images in [0, 1] decoded from codings drawn from N(0, I)."""
        z = torch.randn(n, self.config.codings, generator=generator)
        return self.decode(z.to(next(self.parameters()).device))
