"""The contract every model meets, and the registry that builds a model from its config.

A model maps float images ``(N, C, H, W)`` in [0, 1] to codings and back. ``forward`` returns an
:class:`Output` whose ``losses`` are named terms; the trainer minimises their sum and knows nothing
else about the model. Decoders end in logits: the sigmoid is applied where images are wanted, and
the loss takes the logits (the same binary cross-entropy, several times cheaper and stable where
the sigmoid saturates).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autoencode.errors import ConfigError


@dataclass
class ModelConfig:
    """Base of every model's config: what the model is built from, saved as JSON beside it."""

    kind: ClassVar[str] = ""
    input_shape: tuple[int, int, int] = (1, 28, 28)

    def __post_init__(self):
        self.input_shape = tuple(int(s) for s in self.input_shape)
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise ConfigError(
                f"input_shape must be (C, H, W) of positive sizes, got {self.input_shape}"
            )

    def to_dict(self) -> dict:
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclass
class Output:
    """What ``forward`` returns: reconstruction logits, the codings used, and named loss terms."""

    logits: torch.Tensor
    codings: torch.Tensor
    losses: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def loss(self) -> torch.Tensor:
        first, *rest = self.losses.values()  # no ``0 +``: one autograd node fewer per step
        return first + sum(rest) if rest else first

    @property
    def reconstruction(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy averaged over pixels and batch, from logits (Keras' BCE, unclipped)."""
    return F.binary_cross_entropy_with_logits(logits, x)


class Autoencoder(nn.Module):
    """Base class: subclasses set ``encoder`` and ``decoder`` (which ends in logits)."""

    config: ModelConfig
    generative: ClassVar[bool] = False
    # The layout the trainer puts the weights in; convolutions run 1.3-1.6× faster channels-last
    # on the CPU (measured on the conv preset, torch 2.13).
    memory_format: ClassVar[torch.memory_format] = torch.contiguous_format

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.output_activation = nn.Sigmoid()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(N, C, H, W)`` in [0, 1] to codings."""
        return self.encoder(x)

    def encoder_network(self) -> nn.Module:
        """The layers from image to codings, as one module (what pretraining copies)."""
        return self.encoder

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codings to images in [0, 1]."""
        return self.output_activation(self.decode_logits(z))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Images to their reconstructions (deterministic)."""
        return self.decode(self.encode(x))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """New images from random codings; only generative models (``generative = True``) can."""
        raise ConfigError(f"a {self.config.kind!r} model is not generative: it cannot sample")

    def forward(self, x: torch.Tensor) -> Output:
        z = self.encode(x)
        logits = self.decode_logits(z)
        return Output(logits, z, {"reconstruction": reconstruction_loss(logits, x)})


MODELS: dict[str, tuple[type[ModelConfig], type[Autoencoder]]] = {}


def register(config_cls: type[ModelConfig]):
    """Class decorator: make a model buildable from ``config_cls`` and its ``kind``."""

    def decorate(model_cls: type[Autoencoder]) -> type[Autoencoder]:
        MODELS[config_cls.kind] = (config_cls, model_cls)
        return model_cls

    return decorate


def config_from_dict(data: dict) -> ModelConfig:
    """The inverse of ``ModelConfig.to_dict``; unknown kinds and fields are ConfigErrors."""
    data = dict(data)
    kind = data.pop("kind", None)
    if kind not in MODELS:
        raise ConfigError(f"unknown model kind {kind!r}: expected one of {', '.join(MODELS)}")
    config_cls = MODELS[kind][0]
    names = {f.name for f in dataclasses.fields(config_cls)}
    if unknown := set(data) - names:
        raise ConfigError(f"unknown {kind} model setting(s): {', '.join(sorted(unknown))}")
    try:
        return config_cls(**data)
    except TypeError as e:
        raise ConfigError(f"bad {kind} model config: {e}") from None


def build_model(config: ModelConfig | dict) -> Autoencoder:
    """A freshly initialised model from its config (or the config's dict)."""
    if isinstance(config, dict):
        config = config_from_dict(config)
    return MODELS[config.kind][1](config)
