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
from typing import ClassVar, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from autoencode import typed
from autoencode.errors import ConfigError

# What a config may ask for. A config is data (a run folder from someone else, say): without
# bounds, one number in config.json could make the loader allocate hundreds of gigabytes.
MAX_SIZE = 1 << 20  # any one layer width, filter count, coding size or image side
MAX_PARAMETERS = 250_000_000  # 1 GB of float32 weights
MAX_ACTIVATIONS = 1 << 26  # values one example produces through the whole network (256 MB)


def check_sizes(name: str, sizes: tuple[int, ...], low: int = 1) -> None:
    """Every size in ``low..MAX_SIZE``; a ConfigError naming the setting otherwise."""
    if any(not low <= s <= MAX_SIZE for s in sizes):
        raise ConfigError(f"{name} must lie between {low} and {MAX_SIZE:,}, got {list(sizes)}")


@dataclass
class ModelConfig:
    """Base of every model's config: what the model is built from, saved as JSON beside it."""

    kind: ClassVar[str] = ""
    input_shape: tuple[int, int, int] = (1, 28, 28)

    def __post_init__(self):
        typed.check_fields(self)  # types first: every later check may rely on them
        check_sizes("input_shape", self.input_shape)

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


class Trainable(Protocol):
    """What the trainer needs of a model, and all it knows of one (autoencoders and classifiers)."""

    takes_labels: bool  # forward(x, labels) rather than forward(x)
    memory_format: torch.memory_format  # the layout its weights and batches train in

    def __call__(self, x: torch.Tensor, *targets: torch.Tensor) -> Output: ...

    def parameters(self): ...


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy averaged over pixels and batch, from logits (Keras' BCE, unclipped)."""
    return F.binary_cross_entropy_with_logits(logits, x)


class Autoencoder(nn.Module):
    """Base class: subclasses set ``encoder`` and ``decoder`` (which ends in logits)."""

    config: ModelConfig
    generative: ClassVar[bool] = False
    takes_labels: ClassVar[bool] = False  # the trainer passes labels to models that learn from them
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
    if not isinstance(data, dict):
        raise ConfigError(f"a model config must be a JSON object, got {type(data).__name__}")
    data = dict(data)
    kind = data.pop("kind", None)
    if not isinstance(kind, str) or kind not in MODELS:
        raise ConfigError(f"unknown model kind {kind!r}: expected one of {', '.join(MODELS)}")
    return typed.from_dict(MODELS[kind][0], data, f"{kind} model")


def build_model(
    config: ModelConfig | dict, device: torch.device | str | None = None
) -> Autoencoder:
    """A model from its config (or the config's dict): freshly initialised, or on ``meta``
    (shapes without storage) for a loader to fill.

    The model is first built on the meta device, where it costs nothing, and refused if it
    would exceed the size limits (``MAX_PARAMETERS``, ``MAX_ACTIVATIONS``) or cannot take its
    input shape.
    """
    if isinstance(config, dict):
        config = config_from_dict(config)
    model_cls = MODELS[config.kind][1]
    with torch.device("meta"):
        probe = model_cls(config)
    check_cost(probe)
    if torch.device(device or "cpu").type == "meta":
        return probe
    return model_cls(config).to(device or "cpu")


def check_cost(model: Autoencoder) -> None:
    """Refuse a (meta) model over the size limits, or one its own input shape does not fit."""
    kind, shape = model.config.kind, tuple(model.config.input_shape)
    parameters = sum(p.numel() for p in model.parameters())
    if parameters > MAX_PARAMETERS:
        raise ConfigError(f"the {kind} model would have {parameters:,} parameters, "
                          f"more than the limit of {MAX_PARAMETERS:,}")  # fmt: skip
    values = 0

    def count(_module, _inputs, output):
        nonlocal values
        values += output.numel() if isinstance(output, torch.Tensor) else 0

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *shape, device="meta"))
    except (RuntimeError, ValueError, IndexError) as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ConfigError(
            f"the {kind} model does not fit input_shape {list(shape)} ({first})"
        ) from None
    finally:
        for hook in hooks:
            hook.remove()
    if values > MAX_ACTIVATIONS:
        raise ConfigError(f"the {kind} model would compute {values:,} values per image, "
                          f"more than the limit of {MAX_ACTIVATIONS:,}")  # fmt: skip
