"""Wasserstein autoencoders with the MMD penalty (Tolstikhin et al. 2018, WAE-MMD).

A WAE's encoder is deterministic; instead of a per-example KL term, the loss pulls the codings of
the whole batch, as a distribution, towards the prior N(0, σ²I) through the maximum mean
discrepancy between them and as many draws from the prior. With the codings distributed as the
prior, decoding prior draws generates: the objective is generative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from autoencode.errors import ConfigError
from autoencode.models.objectives.rae import Deterministic

# The kernel's scales: C = 2·d·σ² times each, summed (the WAE authors' code), so that the penalty
# sees both near and far mismatches whatever the codings' spread.
KERNEL_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
MAX_SCALE = 1e6


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """‖a_i − b_j‖² for every pair of rows, as |a|² + |b|² − 2a·b (n × m values, never
    n × m × d), clamped at 0 against round-off."""
    sq = a.square().sum(1)[:, None] + b.square().sum(1)[None, :] - 2 * a @ b.T
    return sq.clamp_min(0)


def imq_mmd(q: torch.Tensor, p: torch.Tensor, variance: float = 1.0) -> torch.Tensor:
    """The unbiased estimate of MMD²(q, p) between two equal-sized samples ``(n, d)``, with the
    inverse multiquadric kernel k(x, y) = C / (C + ‖x − y‖²), C = 2·d·``variance`` (the expected
    ‖x − y‖² of two prior draws), summed over ``KERNEL_SCALES`` × C. Near 0 (either sign) when
    q and p are drawn from one distribution; 0 for fewer than two examples, which say nothing."""
    n, d = q.shape
    if n < 2:
        return q.sum() * 0
    base = 2 * d * variance
    within = 1 - torch.eye(n, dtype=q.dtype, device=q.device)
    qq, pp, qp = squared_distances(q, q), squared_distances(p, p), squared_distances(q, p)
    total = q.new_zeros(())
    for scale in KERNEL_SCALES:
        c = base * scale
        same = ((c / (c + qq) + c / (c + pp)) * within).sum() / (n * (n - 1))
        total = total + same - 2 * (c / (c + qp)).sum() / (n * n)
    return total


@dataclass
class Wasserstein(Deterministic):
    """WAE-MMD: reconstruction + ``weight`` × MMD²(the batch's codings, as many draws from
    N(0, ``scale``²I)) (``mmd``; the IMQ kernel, several scales, unbiased); deterministic
    codings (``codings``: a dense layer to that many, for a conv encoder's block). Its prior is
    N(0, ``scale``²I): it generates.

    ``weight`` 1: the authors' MNIST λ 10 was against 0.05 × the per-image squared error sum
    (39 × a per-pixel MSE), so λ ≈ 0.26 per unit of per-pixel MSE; this loss's per-pixel BCE
    pulls several times harder on the logits, hence about 1. Measured (conv-wae, 3 epochs of
    Fashion-MNIST): the validation MMD is down to 0.035 by the second epoch, reconstruction
    0.3080 against conv-vae's 0.3060; 0.3 gets there a little later (0.037 at the third, BCE
    0.3049); on the seed VAE's dense layers 3 and 10 cost 0.04 and 0.05 of BCE for an MMD
    hardly lower.
    """

    kind: ClassVar[str] = "wae"
    generative: ClassVar[bool] = True
    weight: float = 1.0
    scale: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        if self.weight < 0 or not 0 < self.scale <= MAX_SCALE:
            raise ConfigError(f"wae needs weight >= 0 and 0 < scale <= {MAX_SCALE:g}")

    def losses(self, x, logits, codings, extra):
        z = codings.flatten(1)
        prior = self.scale * torch.randn_like(z)  # follows the trainer's RNG
        return {**super().losses(x, logits, codings, extra),
                "mmd": self.weight * imq_mmd(z, prior, self.scale**2)}  # fmt: skip

    def prior(self, n: int, shape: tuple[int, ...], generator=None) -> torch.Tensor:
        return self.scale * torch.randn(n, *shape, generator=generator)
