"""The convolutional autoencoder of the seed: three conv + max-pool stages down, three transposed up."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from autoencode.errors import ConfigError
from autoencode.models.base import Autoencoder, ModelConfig, check_sizes, register
from autoencode.models.layers import Conv, ConvTranspose, check_activation


@dataclass
class ConvConfig(ModelConfig):
    """Filters per stage; each stage is a ``same`` convolution then a 2×2 max-pool.

    For 28×28 images the seed's (16, 32, 64) give codings of shape (64, 3, 3).
    """

    kind = "conv"
    filters: tuple[int, ...] = (16, 32, 64)
    kernel_size: int = 3
    activation: str = "selu"

    def __post_init__(self):
        super().__post_init__()
        check_conv_stages(self.filters, self.kernel_size, self.activation)
        decoder_paddings(self.input_shape[1:], len(self.filters))


def check_conv_stages(filters: tuple[int, ...], kernel_size: int, activation: str,
                      name: str = "filters") -> None:  # fmt: skip
    """Convolution stages a config may ask for: at least one, sizes in range, an odd kernel."""
    if not filters:
        raise ConfigError(f"{name} must name at least one stage")
    check_sizes(name, filters)
    check_sizes("kernel_size", (kernel_size,))
    if kernel_size % 2 == 0:
        raise ConfigError(f"kernel_size must be odd, got {kernel_size}")
    check_activation(activation)


def stage_sizes(hw: tuple[int, int], stages: int) -> list[tuple[int, int]]:
    """Height and width after each max-pool (floor division, as Keras' ``valid`` pooling)."""
    sizes, (h, w) = [], hw
    for _ in range(stages):
        h, w = h // 2, w // 2
        if min(h, w) < 1:
            raise ConfigError(f"{stages} pooling stages shrink {hw} to nothing; use fewer filters")
        sizes.append((h, w))
    return sizes


def decoder_paddings(hw: tuple[int, int], stages: int) -> list[str]:
    """The padding of each transposed convolution, from the codings back up to ``hw``: ``same``
    doubles a size, ``valid`` (3×3 kernel) doubles it plus one (3 → 7 in the seed). Both sides
    of a stage must grow the same way."""
    sizes = [tuple(hw), *stage_sizes(tuple(hw), stages)]
    paddings = []
    for small, large in zip(sizes[:0:-1], sizes[-2::-1], strict=True):
        if all(big == 2 * s for s, big in zip(small, large, strict=True)):
            paddings.append("same")
        elif all(big == 2 * s + 1 for s, big in zip(small, large, strict=True)):
            paddings.append("valid")
        else:
            raise ConfigError(
                f"input_shape {hw[0]}×{hw[1]}: the decoder cannot grow {small[0]}×{small[1]} back "
                f"to {large[0]}×{large[1]} (stride 2 doubles a side, or doubles it plus one, "
                "the same for height and width); choose a size that halves alike on both sides"
            )
    return paddings


@register(ConvConfig)
class ConvAutoencoder(Autoencoder):
    """Conv2D + MaxPool stages to a (filters, h, w) coding block; Conv2DTranspose stages back."""

    memory_format = torch.channels_last

    def __init__(self, config: ConvConfig):
        super().__init__(config)
        channels, *hw = config.input_shape
        k, act = config.kernel_size, config.activation
        encoder, previous = [], channels
        for f in config.filters:
            encoder += [
                Conv(previous, f, k, act),
                nn.MaxPool2d(2),
            ]  # (N, f, h, w) -> (N, f, h/2, w/2)
            previous = f
        self.encoder = nn.Sequential(*encoder)
        outs = [*reversed(config.filters[:-1]), channels]
        decoder = []
        paddings = decoder_paddings(tuple(hw), len(config.filters))
        for i, (out, padding) in enumerate(zip(outs, paddings, strict=True)):
            last = i == len(outs) - 1
            decoder.append(ConvTranspose(previous, out, k, 2, padding, "linear" if last else act))
            previous = out
        self.decoder = nn.Sequential(*decoder)  # ends in logits (N, C, H, W)
