"""The objectives of the seed and its chapter: reconstruction, denoising, sparse, variational
and vector-quantised (the package's ``__init__`` holds the registry)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autoencode import typed
from autoencode.errors import ConfigError
from autoencode.models.base import Output
from autoencode.models.layers import Dense

LOSSES = ("bce", "mse")


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor, loss: str = "bce") -> torch.Tensor:
    """BCE from logits (Keras' BCE without its clipping), or MSE of the sigmoid, averaged; in
    float32 whatever precision the logits come in (bf16 under autocast)."""
    logits = logits.float()
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(logits, x)
    return F.mse_loss(torch.sigmoid(logits), x)


@dataclass
class Objective:
    """Reconstruction alone: BCE or MSE between the input and its reconstruction."""

    kind: ClassVar[str] = "reconstruction"
    generative: ClassVar[bool] = False
    loss: str = "bce"

    def __post_init__(self):
        typed.check_fields(self)
        if self.loss not in LOSSES:
            raise ConfigError(
                f"objective loss must be one of {', '.join(LOSSES)}, got {self.loss!r}"
            )

    def head(self, features: tuple[int, ...]) -> nn.Module | None:
        """Layers between the encoder's output (of shape ``features``) and the codings."""
        return None

    def codings_shape(self, features: tuple[int, ...]) -> tuple[int, ...]:
        """The codings' shape (per example), from the encoder's output shape."""
        return features

    def encoder_network(self, encoder: nn.Module, head: nn.Module | None) -> nn.Module:
        """The layers from image to codings as one module (what pretraining copies)."""
        return encoder

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """The input the encoder sees in training (the image itself, unless denoising)."""
        return x

    def code(
        self, head: nn.Module | None, h: torch.Tensor, sample: bool
    ) -> tuple[torch.Tensor, dict]:
        """Codings from the encoder's output (``sample``: in training), and what the losses need."""
        return h, {}

    def losses(self, x: torch.Tensor, logits: torch.Tensor, codings: torch.Tensor,
               extra: dict) -> dict[str, torch.Tensor]:  # fmt: skip
        return {"reconstruction": reconstruction_loss(logits, x, self.loss)}

    def forward(self, model: nn.Module, x: torch.Tensor) -> Output:
        """One training (or validation) step's output of ``model`` (an Autoencoder) on ``x``:
        an objective that needs more than one pass of the decoder, or the model's weights in its
        loss, overrides this."""
        seen = self.corrupt(x) if model.training else x
        # a variational objective samples in validation too, as Keras' Sampling layer does
        z, extra = self.code(model.head, model.encoder(seen), sample=True)
        logits = model.decoder(z)
        return Output(logits, z, self.losses(x, logits, z, extra))

    def prior(self, n: int, shape: tuple[int, ...], generator=None) -> torch.Tensor:
        raise ConfigError(
            f"a model with the {self.kind!r} objective is not generative: it cannot sample"
        )


@dataclass
class Denoising(Objective):
    """Reconstruct the clean image from a corrupted one: Gaussian noise of standard deviation
    ``noise`` and/or ``dropout`` (a fraction of pixels zeroed), in training only."""

    kind: ClassVar[str] = "denoising"
    noise: float = 0.2
    dropout: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        if self.noise < 0 or not 0 <= self.dropout < 1 or self.noise == self.dropout == 0:
            raise ConfigError("denoising needs noise >= 0 and 0 <= dropout < 1, not both zero")

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        if self.noise:
            x = x + self.noise * torch.randn_like(x)
        if self.dropout:
            x = F.dropout(x, self.dropout)  # Keras' Dropout: the kept pixels scaled by 1/(1-p)
        return x


@dataclass
class SparseL1(Objective):
    """Reconstruction + ``weight`` × the mean absolute coding (an L1 activity penalty)."""

    kind: ClassVar[str] = "sparse_l1"
    weight: float = 1e-3

    def losses(self, x, logits, codings, extra):
        return {**super().losses(x, logits, codings, extra),
                "sparsity": self.weight * codings.abs().mean()}  # fmt: skip


@dataclass
class SparseKL(Objective):
    """Reconstruction + ``weight`` × KL(target ‖ mean activation) summed over the codings, whose
    activations must lie in (0, 1) (a sigmoid coding layer): most codings stay near 0."""

    kind: ClassVar[str] = "sparse_kl"
    target: float = 0.1
    weight: float = 0.05

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.target < 1 or self.weight < 0:
            raise ConfigError("sparse_kl needs 0 < target < 1 and weight >= 0")

    def losses(self, x, logits, codings, extra):
        p, q = self.target, codings.mean(0).clamp(1e-7, 1 - 1e-7)
        kl = p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))
        return {**super().losses(x, logits, codings, extra), "sparsity": self.weight * kl.sum()}


@dataclass
class Variational(Objective):
    """A Gaussian over ``codings`` dimensions: the encoder's output feeds a mean and a
    log-variance layer, training samples the codings, and the loss adds ``beta`` × the KL
    divergence from N(0, I) divided by the pixels (the seed's VAE: beta 1)."""

    kind: ClassVar[str] = "variational"
    generative: ClassVar[bool] = True
    codings: int = 10
    beta: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        if not 1 <= self.codings <= 1 << 20 or self.beta < 0:
            raise ConfigError("variational needs 1 <= codings <= 2^20 and beta >= 0")

    def head(self, features: tuple[int, ...]) -> nn.Module:
        return VariationalHead(math.prod(features), self.codings)

    def codings_shape(self, features: tuple[int, ...]) -> tuple[int, ...]:
        return (self.codings,)

    def encoder_network(self, encoder, head):
        return nn.Sequential(encoder, nn.Flatten(), head.mean)  # the codings' mean

    def code(self, head, h, sample):
        mean, log_var = head(h.flatten(1))
        z = mean + torch.exp(log_var / 2) * torch.randn_like(mean) if sample else mean
        return z, {"mean": mean, "log_var": log_var}

    def losses(self, x, logits, codings, extra):
        mean, log_var = extra["mean"], extra["log_var"]
        kl = -0.5 * torch.sum(1 + log_var - log_var.exp() - mean.square(), dim=-1)
        pixels = math.prod(x.shape[1:])
        return {**super().losses(x, logits, codings, extra),
                "kl": self.beta * kl.mean() / pixels}  # fmt: skip

    def prior(self, n, shape, generator=None):
        return torch.randn(n, self.codings, generator=generator)


class VariationalHead(nn.Module):
    """The mean and log-variance layers of a variational objective (the seed's two Dense(10))."""

    def __init__(self, features: int, codings: int):
        super().__init__()
        self.mean = Dense(features, codings)
        self.log_var = Dense(features, codings)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean(h), self.log_var(h)


@dataclass
class VectorQuantized(Objective):
    """VQ-VAE's bottleneck (van den Oord et al. 2017): each coding vector (a dense encoder's output,
    or each position of a conv encoder's block) is replaced by the nearest of ``codebook_size``
    learned vectors; gradients pass straight through to the encoder. Adds the codebook term
    ‖sg(z) − e‖² and ``commitment`` × ‖z − sg(e)‖². Sampling would need a prior over the codes
    (an autoregressive model), which this objective does not learn: it does not generate."""

    kind: ClassVar[str] = "vq"
    codebook_size: int = 64
    commitment: float = 0.25

    def __post_init__(self):
        super().__post_init__()
        if not 2 <= self.codebook_size <= 1 << 16 or self.commitment < 0:
            raise ConfigError("vq needs 2 <= codebook_size <= 65536 and commitment >= 0")

    def head(self, features: tuple[int, ...]) -> nn.Module:
        return Codebook(self.codebook_size, features[0])  # (units,) or (channels, h, w)

    def encoder_network(self, encoder, head):
        return nn.Sequential(encoder, Quantize(head))

    def code(self, head, h, sample):
        vectors = h if h.ndim == 2 else h.movedim(1, -1)  # (N, D) or (N, h, w, C)
        e = head.nearest(vectors)
        z = vectors + (e - vectors).detach()  # the straight-through estimator
        z = z if h.ndim == 2 else z.movedim(-1, 1)
        return z, {"vectors": vectors, "quantized": e}

    def losses(self, x, logits, codings, extra):
        z, e = extra["vectors"], extra["quantized"]
        return {**super().losses(x, logits, codings, extra),
                "codebook": F.mse_loss(e, z.detach()),
                "commitment": self.commitment * F.mse_loss(z, e.detach())}  # fmt: skip


class Codebook(nn.Module):
    """``size`` vectors of ``dim`` values, initialised uniformly in ±1/size (as VQ-VAE's)."""

    def __init__(self, size: int, dim: int):
        super().__init__()
        self.vectors = nn.Parameter(torch.empty(size, dim).uniform_(-1 / size, 1 / size))

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """The index of the nearest codebook vector to each vector of ``z`` (..., dim)."""
        # squared distances as |z|² - 2 z·e + |e|² (cdist picks its method by the batch size,
        # which the ONNX exporter cannot follow); |z|² is the same for every e, so left out
        scores = self.vectors.square().sum(1) - 2 * z @ self.vectors.T  # (..., size)
        return scores.argmin(-1)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Each vector of ``z`` (..., dim) replaced by its nearest codebook vector."""
        return self.vectors[self.indices(z)]


class Quantize(nn.Module):
    """An encoder's output snapped to its codebook (a VQ model's codings, as one module)."""

    def __init__(self, codebook: Codebook):
        super().__init__()
        self.codebook = codebook

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if h.ndim == 2:
            return self.codebook.nearest(h)
        return self.codebook.nearest(h.movedim(1, -1)).movedim(-1, 1)
