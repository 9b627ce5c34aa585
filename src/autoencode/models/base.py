"""The contract every trainable model meets, and the limits a config may ask for.

A model maps float images ``(N, C, H, W)`` in [0, 1] to an :class:`Output` whose ``losses`` are
named terms; the trainer minimises their sum and knows nothing else about the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

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
class Output:
    """What ``forward`` returns: reconstruction logits, the codings used, and named loss terms."""

    logits: torch.Tensor
    codings: torch.Tensor
    losses: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def loss(self) -> torch.Tensor:
        first, *rest = self.losses.values()  # no ``0 +``: one autograd node fewer per step
        return first + sum(rest) if rest else first


class Trainable(Protocol):
    """What the trainer needs of a model, and all it knows of one (autoencoders and classifiers)."""

    takes_labels: bool  # forward(x, labels) rather than forward(x)
    memory_format: torch.memory_format  # the layout its weights and batches train in

    def __call__(self, x: torch.Tensor, *targets: torch.Tensor) -> Output: ...

    def parameters(self): ...


def check_cost(model: nn.Module, shape: tuple[int, int, int], forward: bool = True) -> None:
    """Refuse a (meta) model over the size limits, or one that cannot take images of ``shape``
    (a forward pass on the meta device; ``forward=False``: the parameters alone, for a config
    already checked whole: the first meta pass of a process costs torch about 1.4 s)."""
    parameters = sum(p.numel() for p in model.parameters())
    if parameters > MAX_PARAMETERS:
        raise ConfigError(f"the model would have {parameters:,} parameters, "
                          f"more than the limit of {MAX_PARAMETERS:,}")  # fmt: skip
    if not forward:
        return
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
        raise ConfigError(f"the model does not fit input_shape {list(shape)} ({first})") from None
    finally:
        for hook in hooks:
            hook.remove()
    if values > MAX_ACTIVATIONS:
        raise ConfigError(f"the model would compute {values:,} values per image, "
                          f"more than the limit of {MAX_ACTIVATIONS:,}")  # fmt: skip
