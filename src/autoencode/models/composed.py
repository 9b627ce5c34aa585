"""An autoencoder from parts: an encoder, a decoder and an objective, each a small config.

    {"kind": "autoencoder",
     "encoder": {"kind": "dense", "units": [100, 30]},
     "decoder": {"kind": "dense", "units": [100]},
     "objective": {"kind": "denoising", "noise": 0.2}}

Any encoder goes with any decoder (a conv decoder needs a conv encoder) and any objective.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from autoencode.models.base import Autoencoder, ModelConfig, Output, register
from autoencode.models.objectives import Objective, objective_from_dict
from autoencode.models.parts import DECODERS, ENCODERS, ConvEncoder, part_from_dict


@dataclass
class ComposedConfig(ModelConfig):
    """An encoder, a decoder and an objective, each a dict with its ``kind`` and settings."""

    kind = "autoencoder"
    encoder: dict = field(default_factory=lambda: {"kind": "dense", "units": [100, 30]})
    decoder: dict = field(default_factory=lambda: {"kind": "dense", "units": [100]})
    objective: dict = field(default_factory=lambda: {"kind": "reconstruction"})

    def __post_init__(self):
        super().__post_init__()
        self.parts()  # every part checked when the config is built

    def parts(self):
        """The encoder, decoder and objective configs, built from their dicts."""
        return (part_from_dict(ENCODERS, self.encoder, "encoder"),
                part_from_dict(DECODERS, self.decoder, "decoder"),
                objective_from_dict(self.objective))  # fmt: skip


@register(ComposedConfig)
class ComposedAutoencoder(Autoencoder):
    """Encoder → (the objective's head) → codings → decoder → logits; the objective's losses."""

    def __init__(self, config: ComposedConfig):
        super().__init__(config)
        encoder, decoder, objective = config.parts()
        self.objective: Objective = objective
        self.generative = objective.generative
        if isinstance(encoder, ConvEncoder):
            self.memory_format = torch.channels_last
        self.encoder, features = encoder.build(tuple(config.input_shape))
        self.head = objective.head(features)  # built before the decoder: Keras' order
        self.codings_shape = objective.codings_shape(features)
        self.decoder = decoder.build(self.codings_shape, features, tuple(config.input_shape),
                                     self.encoder)  # fmt: skip

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.objective.code(self.head, self.encoder(x), sample=False)[0]

    def encoder_network(self) -> nn.Module:
        return self.objective.encoder_network(self.encoder, self.head)

    def forward(self, x: torch.Tensor) -> Output:
        seen = self.objective.corrupt(x) if self.training else x
        # a variational objective samples in validation too, as Keras' Sampling layer does
        z, extra = self.objective.code(self.head, self.encoder(seen), sample=True)
        logits = self.decoder(z)
        return Output(logits, z, self.objective.losses(x, logits, z, extra))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = self.objective.prior(n, self.codings_shape, generator)
        return self.decode(z.to(next(self.parameters()).device))
