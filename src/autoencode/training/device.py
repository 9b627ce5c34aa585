"""Choosing the device and the CPU thread count; denormal floats flushed on the CPU."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

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


def auto_threads(model: nn.Module, batch_size: int) -> int:
    """CPU threads for training ``model`` on batches of ``batch_size``.

    Measured on 2 cores (torch 2.13): the seed's stacked autoencoder (batch 32, 164k parameters)
    runs an epoch in 1.5 s on one thread and 1.9 s on two, since its small ops leave threads
    waiting on each other (far worse when another process holds a core). The VAE (batch 128,
    270k parameters) gains from two: 1.3 s against 1.6 s; the conv autoencoder too: 1.3-1.6×.
    So: one thread while a step's work (batch × parameters) is small, every core otherwise.
    """
    convolutional = any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())
    work = batch_size * sum(p.numel() for p in model.parameters())
    return available_cores() if convolutional or work > 16_000_000 else 1


INFERENCE_BYTES = {"cpu": 16 * 2**20, "other": 1 * 2**30}


@torch.inference_mode()
def inference_batch(model: nn.Module, input_shape: tuple[int, ...], device: torch.device) -> int:
    """Images a batch of encoding and reconstructing ``model`` on ``device`` takes: a power of
    two, 16 to 2,048 (4,096 off the CPU), whose largest activation (measured on one image) is
    about 16 MiB on the CPU and 1 GiB on an accelerator.

    Measured on 2 cores (torch 2.13): the seed's conv encoder (28×28×16 maps, 50 KB an image)
    encodes 9,600 images/s in batches of 2,000 and 19,400 in batches of 256; a 64×64 conv model
    12,200 against 22,000 at 512. A batch's 100 MB activations do not stay in the allocator's
    cache: every batch maps fresh pages and faults them in (half the time in the kernel), and
    each op streams them through memory; the dense models (3 KB an image) want the largest.
    """
    largest = 0

    def hook(module, inputs, output):
        nonlocal largest
        if isinstance(output, torch.Tensor):
            largest = max(largest, output.numel() * output.element_size())

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    was_training = model.training
    try:
        model.eval()
        model.reconstruct(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    cpu = device.type == "cpu"
    budget, most = INFERENCE_BYTES["cpu" if cpu else "other"], 2048 if cpu else 4096
    fits = budget // max(largest, 1)
    return max(16, min(most, 2 ** max(0, fits.bit_length() - 1)))


def available_cores() -> int:
    """Cores this process may run on (a container's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def flushing_denormals() -> bool:
    """Whether the CPU takes floats below float32's normal range as zero now (torch has no
    getter for it: a denormal times one is zero only when it does)."""
    return float((torch.tensor([1e-39]) * 1.0).item()) == 0.0


@contextlib.contextmanager
def denormals_flushed() -> Iterator[None]:
    """Inside, CPU arithmetic takes denormal floats (below 1.2e-38) as zero, as TensorFlow's
    CPU kernels do; the previous setting afterwards. Without it, the ``conv-image`` preset at
    128 px fell from 85 to 25 images/s after about 100 steps, as activations sank into the
    denormal range (which x86 computes on tens of times slower); with it, 85 to 100 throughout."""
    before = flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)
