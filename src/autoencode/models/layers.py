"""Layers that carry their activation, so a model reads (and summarises) like the seed's Keras code.

Each is a plain torch layer plus an ``activation`` name; weights start as Keras' do
(Glorot-uniform kernels, zero biases), which the seed's results depend on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autoencode.errors import ConfigError

ACTIVATIONS = {
    "linear": lambda x: x,
    "selu": F.selu,
    "relu": F.relu,
    "elu": F.elu,
    "gelu": F.gelu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}: expected one of {', '.join(ACTIVATIONS)}")
    return name


def keras_init_(layer: nn.Module) -> nn.Module:
    """Glorot-uniform weight, zero bias: Keras' defaults for Dense, Conv2D and Conv2DTranspose."""
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class Dense(nn.Linear):
    """``nn.Linear`` followed by a named activation (Keras' ``Dense``)."""

    def __init__(self, in_features: int, out_features: int, activation: str = "linear"):
        super().__init__(in_features, out_features)
        self.activation = check_activation(activation)
        keras_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ACTIVATIONS[self.activation](super().forward(x))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, activation={self.activation}"


class Conv(nn.Conv2d):
    """``nn.Conv2d`` with ``same`` padding (odd kernels) and a named activation (Keras' ``Conv2D``);
    with ``stride`` 2, each side becomes ceil(side / 2)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 activation: str = "linear", stride: int = 1):  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=kernel_size // 2)  # fmt: skip
        self.activation = check_activation(activation)
        keras_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ACTIVATIONS[self.activation](super().forward(x))


class ConvTranspose(nn.ConvTranspose2d):
    """Keras' ``Conv2DTranspose`` with ``valid`` or ``same`` padding and a named activation.

    ``same`` gives ``stride × input`` pixels aligned as TensorFlow aligns them: the full
    transposed convolution, then its first ``stride × input`` rows and columns. A target size
    ``(h, w)`` instead crops the full output to that (which ``same`` and ``valid`` are cases of).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 2,
                 padding: str | tuple[int, int] = "same", activation: str = "linear"):  # fmt: skip
        if padding not in ("same", "valid") and not isinstance(padding, tuple):
            raise ConfigError(f"padding must be 'same', 'valid' or a size, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride=stride)
        self.same = padding == "same"
        self.target = padding if isinstance(padding, tuple) else None
        self.activation = check_activation(activation)
        keras_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        if self.same:
            h, w = x.shape[-2] * self.stride[0], x.shape[-1] * self.stride[1]
            y = y[..., :h, :w]
        elif self.target is not None:
            y = y[..., : self.target[0], : self.target[1]]
        return ACTIVATIONS[self.activation](y)
