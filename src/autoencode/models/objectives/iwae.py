"""Importance-weighted autoencoders (Burda et al. 2016, IWAE), and the importance weights
themselves.

A VAE trains on the ELBO, log p(x) − KL(q(z|x) ‖ p(z|x)): its posterior is pulled towards a
Gaussian that fits, at the cost of the likelihood. The IWAE trains on the k-sample bound
log (1/k Σ_j w_j), w_j = p(x|z_j) p(z_j) / q(z_j|x), z_j ~ q(z|x), which is tighter as k grows
(k = 1 is the ELBO, the KL term sampled): the same model, the same architecture, a looser
posterior and a higher likelihood.

The weights are computed here (``draw``) and nowhere else: ``models.likelihood`` estimates a
trained VAE's log-likelihood with them (a VAE's and an IWAE's alike). They live with the
objective, not the estimator, because the estimator needs the objectives (which models are
variational) and an objective may not import what imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autoencode.errors import AutoencodeError, ConfigError
from autoencode.models.base import Output
from autoencode.models.objectives.core import Variational

MAX_SAMPLES = 1000
LOG_2PI = math.log(2 * math.pi)


@dataclass
class Draws:
    """``k`` codings drawn from q(z|x) for each of ``N`` images, with what weighs them."""

    codings: torch.Tensor  # (k, N, d)
    logits: torch.Tensor  # (k, N, C, H, W): the decoder's output for each draw
    log_likelihood: torch.Tensor  # (k, N): log p(x|z), Bernoulli on the grey levels
    log_ratio: torch.Tensor  # (k, N): log p(z) − log q(z|x)

    @property
    def log_weights(self) -> torch.Tensor:
        """log p(x|z_j) + log p(z_j) − log q(z_j|x), ``(k, N)``, in nats."""
        return self.log_likelihood + self.log_ratio


def draw(model: nn.Module, x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor, k: int,
         generator: torch.Generator | None = None) -> Draws:  # fmt: skip
    """``k`` draws per image of ``x`` ``(N, C, H, W)`` from q(z|x) = N(``mean``,
    exp(``log_var``)), decoded in one pass of ``model``'s decoder (k·N codings), and their terms:
    log p(x|z) = −Σ_pixels BCE(logits, x) (the seed's reconstruction term times the pixels, x in
    [0, 1] as it is), log p(z) of N(0, I) and log q(z|x). The noise comes from ``generator``, or
    torch's global RNG (the trainer's, so a seeded run repeats) without one."""
    if k < 1:
        raise AutoencodeError(f"importance sampling needs at least one draw, got {k}")
    noise = torch.randn((k, *mean.shape), generator=generator, dtype=mean.dtype,
                        device=mean.device)  # fmt: skip
    z = mean + torch.exp(log_var / 2) * noise
    logits = model.decoder(z.flatten(0, 1)).unflatten(0, (k, len(x)))
    # −Σ BCE(logits, x) as Σ x·logits − softplus(logits): the seed's
    # binary_cross_entropy_with_logits summed, to float rounding, in half its time (18 ms
    # against 38 for 10,000 decodes of 28×28 on one core)
    flat = logits.flatten(2)
    log_likelihood = (flat * x.flatten(1)).sum(-1) - F.softplus(flat).sum(-1)
    log_prior = -0.5 * (LOG_2PI + z.square()).sum(-1)
    log_q = -0.5 * (LOG_2PI + log_var + noise.square()).sum(-1)  # (z − mean)² / σ² = noise²
    return Draws(z, logits, log_likelihood, log_prior - log_q)


def bound(log_weights: torch.Tensor) -> torch.Tensor:
    """log (1/k Σ_j w_j) of each column of ``log_weights`` ``(k, N)``: the k-sample bound on
    log p(x) of each image, ``(N,)``."""
    return log_weights.logsumexp(0) - math.log(len(log_weights))


@dataclass
class ImportanceWeighted(Variational):
    """IWAE: the variational objective's model (``codings`` Gaussian codings, the prior N(0, I);
    its encoding is the mean) trained on the negative ``samples``-draw importance-weighted bound
    divided by the pixels (``iwae``), on the per-pixel scale of the seed VAE's BCE + KL/784, and
    with ``samples`` 1 their sum in expectation (the KL term sampled rather than analytic). Each
    step decodes ``samples`` × the batch. The bound has no β: ``beta`` must stay 1. Validation
    draws too, as the variational objective's does, so its curve is the same bound."""

    kind: ClassVar[str] = "iwae"
    samples: int = 5

    def __post_init__(self):
        super().__post_init__()
        if not 1 <= self.samples <= MAX_SAMPLES:
            raise ConfigError(f"iwae needs 1 <= samples <= {MAX_SAMPLES}, got {self.samples}")
        if self.beta != 1 or self.loss != "bce":
            raise ConfigError("iwae's bound is of the Bernoulli likelihood: it needs beta 1 and "
                              "the bce loss")  # fmt: skip

    def forward(self, model: nn.Module, x: torch.Tensor) -> Output:
        """The bound over ``samples`` draws per image; the logits and codings of the first."""
        _, extra = self.code(model.head, model.encoder(x), sample=False)
        draws = draw(model, x, extra["mean"], extra["log_var"], self.samples)
        pixels = math.prod(x.shape[1:])
        loss = -bound(draws.log_weights).mean() / pixels
        return Output(draws.logits[0], draws.codings[0], {"iwae": loss})
