"""The autoencoder: an encoder, a decoder and an objective, each a small typed config.

    {"kind": "autoencoder",
     "encoder": {"kind": "dense", "units": [100, 30]},
     "decoder": {"kind": "dense", "units": [100]},
     "objective": {"kind": "variational", "codings": 10}}

Every model is one of these; the seed's stacked, convolutional and variational autoencoders are
three configurations (``presets``). Any encoder goes with any decoder (a conv decoder needs a conv
encoder) and any objective. Run folders of the older kinds (``stacked``, ``conv``, ``vae``) are
translated when read (``models.legacy``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from autoencode import typed
from autoencode.errors import ConfigError
from autoencode.models import legacy
from autoencode.models.base import Output, check_cost, check_sizes
from autoencode.models.objectives import OBJECTIVES, Objective
from autoencode.models.parts import (
    DECODERS,
    ENCODERS,
    ConvEncoder,
    Decoder,
    DenseDecoder,
    DenseEncoder,
    Encoder,
    part_from_dict,
    part_to_dict,
)

KIND = "autoencoder"


@dataclass
class ModelConfig:
    """What a model is built from, saved as JSON beside its weights: the input shape and the
    three parts. Parts may be given as their dicts; they are parsed (and checked) once, here."""

    input_shape: tuple[int, int, int] = (1, 28, 28)
    encoder: Encoder = field(default_factory=DenseEncoder)
    decoder: Decoder = field(default_factory=DenseDecoder)
    objective: Objective = field(default_factory=Objective)
    kind = KIND  # what config.json calls it: older files name other kinds (models.legacy)

    def __post_init__(self):
        self.input_shape = typed.coerce(self.input_shape, tuple[int, int, int], "input_shape")
        check_sizes("input_shape", self.input_shape)
        for name, registry in (("encoder", ENCODERS), ("decoder", DECODERS),
                               ("objective", OBJECTIVES)):  # fmt: skip
            part = getattr(self, name)
            part = part_from_dict(registry, part, name) if isinstance(part, dict) else part
            if type(part) not in registry.values():
                raise ConfigError(
                    f"{name} must be one of the {name} configs ({', '.join(registry)})"
                )
            setattr(self, name, part)

    @property
    def generative(self) -> bool:
        return self.objective.generative

    @property
    def description(self) -> str:
        """What the model is, in a few words: ``dense → dense, variational``."""
        return f"{self.encoder.kind} → {self.decoder.kind}, {self.objective.kind}"

    def to_dict(self) -> dict:
        return {"kind": KIND, "input_shape": list(self.input_shape),
                "encoder": part_to_dict(self.encoder), "decoder": part_to_dict(self.decoder),
                "objective": part_to_dict(self.objective)}  # fmt: skip


def config_from_dict(data) -> ModelConfig:
    """The inverse of ``ModelConfig.to_dict`` (older kinds translated); unknown kinds and
    settings are ConfigErrors."""
    if not isinstance(data, dict):
        raise ConfigError(f"a model config must be a JSON object, got {type(data).__name__}")
    translated = legacy.translate(data)
    if translated.get("kind") != KIND:
        raise ConfigError(f"unknown model kind {typed.short(data.get('kind'))}: expected "
                          f"{KIND} (or an older {', '.join(legacy.KINDS)})")  # fmt: skip
    fields = {k: v for k, v in translated.items() if k != "kind"}
    try:
        return typed.from_dict(ModelConfig, fields, "model")
    except ConfigError as e:  # named as the user wrote it
        raise ConfigError(e.message + legacy.note(data), e.parameter) from None


class Autoencoder(nn.Module):
    """Encoder → (the objective's head) → codings → decoder → logits; the objective's losses.

    Decoders end in logits: the sigmoid is applied where images are wanted, and the loss takes
    the logits (the same binary cross-entropy, several times cheaper and stable where the
    sigmoid saturates).
    """

    takes_labels = False  # the trainer passes labels to models that learn from them

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.objective: Objective = config.objective
        self.generative = config.generative
        # convolutions run 1.3-1.6× faster channels-last on the CPU (the conv preset, torch 2.13)
        conv = isinstance(config.encoder, ConvEncoder)
        self.memory_format = torch.channels_last if conv else torch.contiguous_format
        image = tuple(config.input_shape)
        self.encoder, features = config.encoder.build(image)
        self.head = config.objective.head(features)  # built before the decoder: Keras' order
        self.codings_shape = config.objective.codings_shape(features)
        self.decoder = config.decoder.build(self.codings_shape, config.encoder, image,
                                            self.encoder)  # fmt: skip
        self.output_activation = nn.Sigmoid()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(N, C, H, W)`` in [0, 1] to codings (a variational model's: the mean)."""
        return self.objective.code(self.head, self.encoder(x), sample=False)[0]

    def encoder_network(self) -> nn.Module:
        """The layers from image to codings, as one module (what pretraining copies)."""
        return self.objective.encoder_network(self.encoder, self.head)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codings to images in [0, 1]."""
        return self.output_activation(self.decoder(z))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Images to their reconstructions (deterministic)."""
        return self.decode(self.encode(x))

    def forward(self, x: torch.Tensor) -> Output:
        return self.objective.forward(self, x)

    def prior_codings(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codings drawn from the objective's prior, on the model's device (generative
        objectives only)."""
        z = self.objective.prior(n, self.codings_shape, generator)
        return z.to(next(self.parameters()).device)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """New images from the objective's prior (generative objectives only)."""
        return self.decode(self.prior_codings(n, generator))


def build_model(
    config: ModelConfig | dict, device: torch.device | str | None = None, checked: bool = False
) -> Autoencoder:
    """A model from its config (or the config's dict): freshly initialised, or on ``meta``
    (shapes without storage) for a loader to fill.

    The model is first built on the meta device, where it costs nothing, and refused if it
    would exceed the size limits or cannot take its input shape (``base.check_cost``;
    ``checked``: this very config passed that check before, so only its parameters are counted).
    """
    if not isinstance(config, ModelConfig):
        config = config_from_dict(config)
    with torch.device("meta"):
        probe = Autoencoder(config)
    check_cost(probe, tuple(config.input_shape), forward=not checked)
    if torch.device(device or "cpu").type == "meta":
        return probe
    return Autoencoder(config).to(device or "cpu")
