"""Choosing the device and the CPU thread count."""

from __future__ import annotations

import os

import torch
from torch import nn

from autoencode.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else Apple's MPS, else the CPU; or an explicit device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"unknown device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but torch sees no CUDA device")
    return device


def auto_threads(model: nn.Module) -> int:
    """CPU threads for training ``model``.

    Measured on 2 cores (torch 2.13): the seed's stacked autoencoder (batch 32, matrices of
    100 × 784) runs an epoch in 1.5 s on one thread and 1.9 s on two, and far slower than that
    when another process holds a core, since threads then wait on each other at every small op.
    Convolutions have enough work per op to gain: the conv autoencoder is 1.3-1.6× faster on two.
    So: one thread for small fully connected models, every core for anything with convolutions
    or over two million parameters.
    """
    convolutional = any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())
    large = sum(p.numel() for p in model.parameters()) > 2_000_000
    return (os.cpu_count() or 1) if convolutional or large else 1
