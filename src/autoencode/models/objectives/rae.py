"""Regularised autoencoders (Ghosh et al. 2020, "From variational to deterministic autoencoders").

An RAE is deterministic: its codings are the encoder's output, kept compact by ``beta`` × ½‖z‖²
(the part of a VAE's KL term that a fixed-variance posterior leaves), and its decoder kept smooth
by an explicit regulariser in place of the VAE's sampling noise: an L2 penalty on its weights
(RAE-L2) or a gradient penalty (RAE-GP). It generates through a density fitted on its codings
after training (a Gaussian mixture, ``autoencode fit-sampler``), not through a prior of its own.

``Deterministic`` is the shared base of this objective and ``wae``'s: codings straight from the
encoder, or (``codings`` set) through one dense layer to that many, placed where a variational
objective's mean layer is, so a conv encoder's block becomes a flat vector of codings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from autoencode.errors import ConfigError
from autoencode.models.base import MAX_SIZE, Output
from autoencode.models.layers import Dense
from autoencode.models.objectives.core import Objective

DECODER_REGULARISERS = ("l2", "gp", "none")
# Each regulariser's weight where ``weight`` is left unset (see ``Regularized``): they differ by
# orders of magnitude, so one default for both would leave one of them doing nothing.
DEFAULT_WEIGHTS = {"l2": 1e-5, "gp": 1.0, "none": 0.0}


@dataclass
class Deterministic(Objective):
    """Reconstruction with deterministic codings: the encoder's output, or (``codings`` set) a
    linear dense layer from it to ``codings`` values (where a variational objective's mean layer
    sits). Not registered itself: the base of ``rae`` and ``wae``."""

    codings: int | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.codings is not None and not 1 <= self.codings <= MAX_SIZE:
            raise ConfigError(f"{self.kind} codings must lie between 1 and {MAX_SIZE:,} (or be "
                              f"unset: the encoder's output), got {self.codings}")  # fmt: skip

    def head(self, features: tuple[int, ...]) -> nn.Module | None:
        return None if self.codings is None else Dense(math.prod(features), self.codings)

    def codings_shape(self, features: tuple[int, ...]) -> tuple[int, ...]:
        return features if self.codings is None else (self.codings,)

    def encoder_network(self, encoder: nn.Module, head: nn.Module | None) -> nn.Module:
        return encoder if head is None else nn.Sequential(encoder, nn.Flatten(), head)

    def code(self, head, h, sample):
        return (h if head is None else head(h.flatten(1))), {}


def codings_norm(codings: torch.Tensor) -> torch.Tensor:
    """½‖z‖² of each example's codings (flattened), averaged over the batch."""
    return 0.5 * codings.flatten(1).square().sum(1).mean()


def decoder_l2(decoder: nn.Module) -> torch.Tensor:
    """Σ‖θ‖² over the decoder's weights (kernels; biases left out, as Keras' kernel_regularizer
    and weight decay leave them)."""
    weights = [p for p in decoder.parameters() if p.ndim > 1]
    if not weights:  # a tied decoder's weights are the encoder's: only biases of its own
        return next(decoder.parameters()).sum() * 0
    return torch.stack([w.square().sum() for w in weights]).sum()


def gradient_penalty(decoder: nn.Module, codings: torch.Tensor,
                     directions: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """‖∂D(z)/∂z‖² (the Frobenius norm of the Jacobian of the decoded images D(z) in [0, 1] at each
    example's codings), divided by the pixels and averaged over the batch.

    Estimated without the Jacobian, from one vector-Jacobian product: for v ~ N(0, I) over the
    pixels, E‖vᵀJ‖² = ‖J‖² (Hutchinson's estimator), one extra backward pass whatever the number
    of codings. ``directions`` gives v (a check's, say); otherwise it is drawn with
    ``torch.randn_like``, so it follows the trainer's RNG. Taken at the codings detached: it
    regularises the decoder only (``beta`` pulls on the encoder). Differentiable where gradients
    are on (training); also computed under ``inference_mode`` (validation), without a graph, so
    the validation curves show the same term.
    """
    graph = torch.is_grad_enabled()
    with torch.inference_mode(False), torch.enable_grad():
        z = codings.detach().clone().requires_grad_()
        images = torch.sigmoid(decoder(z))
        v = torch.randn_like(images) if directions is None else directions.to(images)
        (vjp,) = torch.autograd.grad(images, z, v, create_graph=graph)
    return vjp.flatten(1).square().sum(1).mean() / math.prod(images.shape[1:])


@dataclass
class Regularized(Deterministic):
    """RAE: reconstruction + ``beta`` × ½‖z‖² (the codings' squared norm, batch mean: ``norm``)
    + a decoder regulariser, each a named term: ``decoder`` ``l2`` adds ``weight`` × Σ‖θ‖² over
    the decoder's weights (``l2``: the paper's RAE-L2), ``gp`` adds ``weight`` × ‖∂D(z)/∂z‖² per
    pixel (``gp``: RAE-GP), ``none`` neither. ``weight`` unset is the regulariser's own default
    (``DEFAULT_WEIGHTS``). Deterministic: it generates through a sampler fitted on its codings.

    The paper's MNIST settings (its code: β 1e-4 on the mean of z² over 16 codings, L2 1e-7, both
    against a per-pixel mean MSE) taken literally would be far too weak here: our per-pixel
    mean BCE pulls several times harder on the logits, and our decoders have a hundredth of
    their weights. The defaults were measured instead (3 epochs of the seed's VAE layers on
    20,000 Fashion-MNIST images, RMSprop): β 1e-4 brings the codings' RMS from 7.4 (β 0) to
    2.7 at no cost in reconstruction (validation BCE 0.3059 against 0.3101); 1e-3 costs 0.009
    and 1e-2 0.027. L2 1e-5 shrinks the decoder's Σ‖θ‖² by a fifth for 0.001 of BCE (1e-4 costs
    0.016); gp 0.3 and 3 add 0.8% and 3% to the loss for 0.002 and 0.003 of BCE, and 1 lies
    between. Each term then stays near 1% of the loss.
    """

    kind: ClassVar[str] = "rae"
    beta: float = 1e-4
    decoder: str = "l2"
    weight: float | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.decoder not in DECODER_REGULARISERS:
            raise ConfigError(f"rae decoder must be one of {', '.join(DECODER_REGULARISERS)}, "
                              f"got {self.decoder!r}")  # fmt: skip
        if self.beta < 0 or (self.weight is not None and self.weight < 0):
            raise ConfigError("rae needs beta >= 0 and weight >= 0")

    @property
    def decoder_weight(self) -> float:
        """``weight``, or the decoder regulariser's default where it is unset."""
        return DEFAULT_WEIGHTS[self.decoder] if self.weight is None else self.weight

    def losses(self, x, logits, codings, extra):
        return {**super().losses(x, logits, codings, extra),
                "norm": self.beta * codings_norm(codings)}  # fmt: skip

    def forward(self, model: nn.Module, x: torch.Tensor) -> Output:
        out = super().forward(model, x)
        if self.decoder == "l2":
            out.losses["l2"] = self.decoder_weight * decoder_l2(model.decoder)
        elif self.decoder == "gp":
            out.losses["gp"] = self.decoder_weight * gradient_penalty(model.decoder, out.codings)
        return out
