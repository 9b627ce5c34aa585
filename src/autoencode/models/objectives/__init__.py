"""Objectives: what an autoencoder learns to do, apart from its layers.

An objective owns the loss terms and anything that happens only in training (corrupting the
inputs, sampling the codings); encoders and decoders own shapes. Adding one is a config class in
a module of this package (what it adds: ``losses``, and where needed ``head``, ``code``,
``corrupt``, ``prior``, ``forward``) and one line in ``OBJECTIVES``; the README shows a worked
example. The terms are named: history.csv and the progress line show each one.
"""

from __future__ import annotations

from autoencode.models.objectives.core import (
    LOSSES,
    Codebook,
    Denoising,
    Objective,
    Quantize,
    SparseKL,
    SparseL1,
    Variational,
    VariationalHead,
    VectorQuantized,
    reconstruction_loss,
)
from autoencode.models.objectives.iwae import ImportanceWeighted
from autoencode.models.objectives.rae import Regularized
from autoencode.models.objectives.wae import Wasserstein

__all__ = ["LOSSES", "OBJECTIVES", "Codebook", "Objective", "Quantize", "Variational",
           "VariationalHead", "VectorQuantized", "reconstruction_loss"]  # fmt: skip

OBJECTIVES: dict[str, type[Objective]] = {o.kind: o for o in (
    Objective,
    Denoising,
    SparseL1,
    SparseKL,
    Variational,
    VectorQuantized,
    Regularized,
    Wasserstein,
    ImportanceWeighted,
)}  # fmt: skip
