"""The marginal likelihood of images under a variational autoencoder, by importance sampling.

A VAE's loss is a bound: the negative ELBO, −E_q[log p(x|z)] + KL(q(z|x) ‖ p(z)), lies above the
negative log-likelihood −log p(x) by KL(q(z|x) ‖ p(z|x)). Weighing k draws z_j ~ q(z|x) by
w_j = p(x|z_j) p(z_j) / q(z_j|x) gives −log (1/k Σ_j w_j), an estimate of −log p(x) whose
expectation falls towards it as k grows (Burda et al. 2016): k = 1 is the negative ELBO (its KL
term sampled), k = 1000 the NLL papers report. The model is the one the seed's loss trains:
q(z|x) = N(mean, exp(log_var)) from the objective's head, p(z) = N(0, I), and p(x|z) Bernoulli
on the grey levels (x in [0, 1], not binarised) with the decoder's logits, so log p(x|z) is
−Σ_pixels BCE(logits, x). Values are in nats per image. The weights themselves are
``objectives.iwae.draw``'s, which the IWAE objective trains on: one formula for both.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from autoencode.errors import AutoencodeError
from autoencode.models.objectives.core import Variational
from autoencode.models.objectives.iwae import draw

# The decoder outputs one pass of ``bounds`` may hold (draws × images × pixels): 2^22 floats,
# 16 MB (100 images of 28×28 take 53 draws a pass). Passes of a few thousand decodes ran fastest
# (the seed VAE on one core: 5 s for k = 1000 on 1,000 images, 10.7 s at 2^24 a pass).
MAX_VALUES = 1 << 22


def check_variational(model: nn.Module) -> Variational:
    """The model's objective, if the likelihood here is the model's: a variational objective (or
    a subclass, such as ``iwae``) with the bce loss; an AutoencodeError otherwise."""
    objective = getattr(model, "objective", None)
    if not isinstance(objective, Variational):
        kind = getattr(objective, "kind", type(model).__name__)
        raise AutoencodeError(f"the log-likelihood needs a variational model, not {kind!r}")
    if objective.loss != "bce":
        raise AutoencodeError("the log-likelihood is the Bernoulli one of the bce loss; this "
                              f"model was trained with {objective.loss!r}")  # fmt: skip
    return objective


def posterior(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """q(z|x) of images ``x`` ``(N, C, H, W)``: its mean and log-variance, each ``(N, d)``."""
    objective = check_variational(model)
    extra = objective.code(model.head, model.encoder(x), sample=False)[1]
    return extra["mean"], extra["log_var"]


def log_weights(model: nn.Module, x: torch.Tensor, k: int,
                generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
    """log p(x|z_j) + log p(z_j) − log q(z_j|x) for ``k`` draws z_j ~ q(z|x) per image of
    ``x`` ``(N, C, H, W)`` in [0, 1]: ``(k, N)``, in nats (noise from ``generator``, else
    torch's global RNG)."""
    return draw(model, x, *posterior(model, x), k, generator).log_weights


def bounds(model: nn.Module, x: torch.Tensor, k: int, chunk: int | None = None,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """From the same ``k`` draws per image: the NLL estimate −log (1/k Σ_j w_j), and the negative
    ELBO with its KL term analytic, −mean_j log p(x|z_j) + KL(q(z|x) ‖ N(0, I)) (the same in
    expectation as the k = 1 estimate, less noisy); each ``(N,)``, nats per image. The draws
    are decoded ``chunk`` at a time (by default as many as keep ``MAX_VALUES`` decoder
    outputs), the log-sum-exp carried over, so that k = 1000 fits in memory. The same
    generator state, ``k``, ``chunk`` and images give the same numbers; another ``chunk`` may
    draw other noise (torch's CPU generator fills a tensor 16 normal values at a time),
    from the same distribution."""
    if k < 1:
        raise AutoencodeError(f"importance sampling needs at least one draw, got {k}")
    if chunk is not None and chunk < 1:
        raise AutoencodeError(f"the draws are decoded in chunks of at least one, got {chunk}")
    mean, log_var = posterior(model, x)
    chunk = chunk or max(1, MAX_VALUES // max(1, x[0].numel() * len(x)))
    total = torch.full((len(x),), -math.inf, dtype=mean.dtype, device=mean.device)
    expected = torch.zeros_like(total)
    for start in range(0, k, chunk):
        draws = draw(model, x, mean, log_var, min(chunk, k - start), generator)
        total = torch.logaddexp(total, draws.log_weights.logsumexp(0))
        expected = expected + draws.log_likelihood.sum(0)
    kl = -0.5 * (1 + log_var - log_var.exp() - mean.square()).sum(-1)
    return -(total - math.log(k)), kl - expected / k


def nll(model: nn.Module, x: torch.Tensor, k: int, chunk: int | None = None,
        generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
    """The ``k``-draw importance-sampled estimate of −log p(x), ``(N,)`` in nats per image:
    −(logsumexp_j log w_j − log k); above −log p(x) in expectation, less so as k grows; k = 1
    is the negative ELBO, its KL term sampled. ``chunk``: see ``bounds``."""
    return bounds(model, x, k, chunk, generator)[0]
