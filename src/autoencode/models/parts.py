"""Encoders and decoders, each a small config that builds its layers for a given shape.

An encoder maps images ``(N, C, H, W)`` to features; a decoder maps codings back to image
logits ``(N, C, H, W)``. The seed's layers are one configuration of each: ``dense`` with units
(100, 30) and (100,), and ``conv`` with filters (16, 32, 64).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from autoencode import typed
from autoencode.errors import ConfigError
from autoencode.models.base import check_sizes
from autoencode.models.layers import ACTIVATIONS, Conv, ConvTranspose, Dense, check_activation


def dense_stack(sizes: list[int], activation: str) -> list[Dense]:
    return [Dense(a, b, activation) for a, b in itertools.pairwise(sizes)]


def check_conv_stages(filters: tuple[int, ...], kernel_size: int, activation: str,
                      name: str) -> None:  # fmt: skip
    """Convolution stages a config may ask for: at least one, sizes in range, an odd kernel."""
    if not filters:
        raise ConfigError(f"{name} must name at least one stage")
    check_sizes(name, filters)
    check_sizes("kernel_size", (kernel_size,))
    if kernel_size % 2 == 0:
        raise ConfigError(f"kernel_size must be odd, got {kernel_size}")
    check_activation(activation)


@dataclass
class DenseEncoder:
    """Flatten, then dense layers of ``units``; the last (the codings) with ``coding_activation``
    (default: ``activation``; ``sigmoid`` for sparse-KL codings)."""

    kind: ClassVar[str] = "dense"
    units: tuple[int, ...] = (100, 30)
    activation: str = "selu"
    coding_activation: str | None = None

    def __post_init__(self):
        typed.check_fields(self)
        if not self.units:
            raise ConfigError("encoder units must name at least one layer")
        check_sizes("encoder units", self.units)
        check_activation(self.activation)
        check_activation(self.coding_activation or self.activation)

    def build(self, input_shape: tuple[int, int, int]) -> tuple[nn.Module, tuple[int, ...]]:
        sizes = [math.prod(input_shape), *self.units]
        layers = dense_stack(sizes[:-1], self.activation)
        layers.append(Dense(sizes[-2], sizes[-1], self.coding_activation or self.activation))
        return nn.Sequential(nn.Flatten(), *layers), (
            self.units[-1],
        )  # (N, C*H*W) -> (N, units[-1])


@dataclass
class ConvEncoder:
    """One stage per entry of ``filters``, each halving the image: a ``same`` convolution then a
    2×2 max-pool (``downsample`` pool: sides floor(side / 2)), or a convolution of stride 2
    (``stride``: sides ceil(side / 2)). ``codings``: then a dense layer from the last stage's
    block to that many codings (flat, compact ones; without it the block is the codings)."""

    kind: ClassVar[str] = "conv"
    filters: tuple[int, ...] = (16, 32, 64)
    kernel_size: int = 3
    activation: str = "selu"
    downsample: str = "pool"
    codings: int | None = None

    def __post_init__(self):
        typed.check_fields(self)
        check_conv_stages(self.filters, self.kernel_size, self.activation, "encoder filters")
        if self.downsample not in ("pool", "stride"):
            raise ConfigError(f"downsample must be pool or stride, got {self.downsample!r}")
        if self.codings is not None:
            check_sizes("encoder codings", (self.codings,))

    def sizes(self, hw: tuple[int, int]) -> list[tuple[int, int]]:
        """Height and width of the input and after each stage."""
        sizes = [tuple(hw)]
        for _ in self.filters:
            h, w = sizes[-1]
            sizes.append(
                (h // 2, w // 2) if self.downsample == "pool" else (-(-h // 2), -(-w // 2))
            )
            if min(sizes[-1]) < 1:
                raise ConfigError(f"input_shape {hw[0]}×{hw[1]}: {len(self.filters)} stages "
                                  "shrink it to nothing; use fewer filters")  # fmt: skip
        return sizes

    def build(self, input_shape: tuple[int, int, int]) -> tuple[nn.Module, tuple[int, ...]]:
        channels, h, w = input_shape
        layers, previous, k, act = [], channels, self.kernel_size, self.activation
        for f in self.filters:  # (N, c, h, w) -> (N, f, h/2, w/2)
            if self.downsample == "pool":
                layers += [Conv(previous, f, k, act), nn.MaxPool2d(2)]
            else:
                layers.append(Conv(previous, f, k, act, stride=2))
            previous = f
        block = (self.filters[-1], *self.sizes((h, w))[-1])
        if self.codings is None:
            return nn.Sequential(*layers), block
        layers += [nn.Flatten(), Dense(math.prod(block), self.codings, act)]
        return nn.Sequential(*layers), (self.codings,)


class TiedDense(nn.Module):
    """A dense layer whose weight is the transpose of another's (tied weights), with its own bias."""

    def __init__(self, source: Dense, activation: str = "linear"):
        super().__init__()
        self._source = [source]  # a list: the weight stays the encoder's, not a second parameter
        self.bias = nn.Parameter(torch.zeros(source.in_features, device=source.weight.device))
        self.activation = check_activation(activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        weight = self._source[0].weight  # (out, in) of the encoder layer: used as (in, out)
        return ACTIVATIONS[self.activation](nn.functional.linear(z, weight.t(), self.bias))


@dataclass
class DenseDecoder:
    """Dense layers of ``units`` (``activation``), then one to the pixels (logits). ``tied``: each
    layer's weight is the transpose of the mirror encoder layer's (a dense encoder whose units,
    reversed and without the codings, are these units)."""

    kind: ClassVar[str] = "dense"
    units: tuple[int, ...] = (100,)
    activation: str = "linear"  # the seed writes its decoder's hidden layer without one
    tied: bool = False

    def __post_init__(self):
        typed.check_fields(self)
        check_sizes("decoder units", self.units)
        check_activation(self.activation)

    def build(self, codings: tuple[int, ...], encoder: Encoder, image: tuple[int, int, int],
              built: nn.Module) -> nn.Module:  # fmt: skip
        """Layers from codings of shape ``codings`` to the image's logits; ``encoder`` is the
        encoder's config and ``built`` its layers (whose weights a tied decoder shares)."""
        sizes = [math.prod(codings), *self.units, math.prod(image)]
        if self.tied:
            layers = self._tied(built, sizes)
        else:
            layers = [*dense_stack(sizes[:-1], self.activation), Dense(sizes[-2], sizes[-1])]
        flatten = (
            [nn.Flatten()] if len(codings) > 1 else []
        )  # conv codings: (N, c, h, w) -> (N, c*h*w)
        return nn.Sequential(*flatten, *layers, nn.Unflatten(1, image))  # logits (N, C, H, W)

    def _tied(self, encoder: nn.Module, sizes: list[int]) -> list[nn.Module]:
        dense = [m for m in encoder.modules() if isinstance(m, Dense)]
        mirror = [*(d.out_features for d in reversed(dense)), dense[0].in_features] if dense else []
        if mirror != sizes:
            raise ConfigError("tied weights need a dense encoder whose layers mirror the decoder's: "
                              f"decoder sizes {sizes}, encoder sizes {mirror[::-1]}")  # fmt: skip
        activations = [self.activation] * (len(dense) - 1) + ["linear"]
        return [TiedDense(d, a) for d, a in zip(reversed(dense), activations, strict=True)]


@dataclass
class ConvDecoder:
    """Transposed convolutions (stride 2) back up the encoder's stages: ``filters`` (default: the
    encoder's, reversed), the last to the image's channels (logits). Flat codings (a variational
    objective's) first go through a dense layer to the encoder's output block."""

    kind: ClassVar[str] = "conv"
    filters: tuple[int, ...] | None = None
    kernel_size: int = 3
    activation: str = "selu"

    def __post_init__(self):
        typed.check_fields(self)
        if self.filters is not None:
            check_sizes("decoder filters", self.filters)
        check_sizes("kernel_size", (self.kernel_size,))
        check_activation(self.activation)

    def build(self, codings: tuple[int, ...], encoder: Encoder, image: tuple[int, int, int],
              built: nn.Module) -> nn.Module:  # fmt: skip
        """Transposed convolutions back through ``encoder``'s stages (its config: the sizes
        after each stage and its filters)."""
        if not isinstance(encoder, ConvEncoder):
            raise ConfigError("a conv decoder needs a conv encoder")
        sizes = encoder.sizes(tuple(image[1:]))  # the input, then after each stage
        features = (encoder.filters[-1], *sizes[-1])
        filters = self.filters or tuple(encoder.filters[-2::-1])
        if len(filters) != len(sizes) - 2:
            raise ConfigError(f"decoder filters must number {len(sizes) - 2}, one less than the "
                              f"encoder's stages, got {list(filters)}")  # fmt: skip
        layers: list[nn.Module] = []
        if tuple(codings) != tuple(features):  # flat codings: a dense layer to the block
            layers += [Dense(math.prod(codings), math.prod(features), self.activation),
                       nn.Unflatten(1, features)]  # fmt: skip
        previous, outs = features[0], [*filters, image[0]]
        steps = zip(outs, sizes[:0:-1], sizes[-2::-1], strict=True)  # (out, from, to), inside out
        for i, (out, small, large) in enumerate(steps):
            if any((s - 1) * 2 + self.kernel_size < t for s, t in zip(small, large, strict=True)):
                raise ConfigError(f"input_shape {sizes[0][0]}×{sizes[0][1]}: the decoder cannot "
                                  f"grow {small[0]}×{small[1]} back to {large[0]}×{large[1]}")  # fmt: skip
            act = "linear" if i == len(outs) - 1 else self.activation
            layers.append(ConvTranspose(previous, out, self.kernel_size, 2, tuple(large), act))
            previous = out
        return nn.Sequential(*layers)


Encoder = DenseEncoder | ConvEncoder
Decoder = DenseDecoder | ConvDecoder
ENCODERS: dict[str, type] = {"dense": DenseEncoder, "conv": ConvEncoder}
DECODERS: dict[str, type] = {"dense": DenseDecoder, "conv": ConvDecoder}


def part_from_dict(registry: dict[str, type], data, what: str):
    """A part's config from its dict (``kind`` names it in ``registry``), every setting checked."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(kind, str) or kind not in registry:
        got = kind if isinstance(data, dict) else data
        raise ConfigError(f"{what} kind must be one of {', '.join(registry)}, got {got!r}")
    fields = {k: v for k, v in data.items() if k != "kind"}
    return typed.from_dict(registry[data["kind"]], fields, f"{data['kind']} {what}")


def part_to_dict(part) -> dict:
    return {"kind": part.kind, **{f: getattr(part, f) for f in vars(part)}}
