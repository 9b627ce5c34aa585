"""Anomaly scores: how unlike the training data an image is, by what the model makes of it.

Two signals, and their combination:

- ``reconstruction``: the image's reconstruction error (mean squared error of its pixels in
  [0, 1]): an autoencoder reconstructs well what resembles what it was trained on;
- ``codings``: the mean Euclidean distance from the image's coding to its ``k`` nearest
  training codings: where the image lands among the training data in coding space;
- ``both``: the mean of the two, each standardised by its mean and standard deviation on the
  validation split (normal data the model did not train on), so neither dominates by its units.

A threshold at a false-positive rate is the ``1 - fpr`` quantile of the validation split's scores:
about that share of normal images is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from autoencode.analysis.embedding import embed
from autoencode.analysis.neighbours import nearest
from autoencode.data.types import Dataset
from autoencode.errors import AutoencodeError, DataError

RULES = ("reconstruction", "codings", "both")


def check_rule(by: str) -> str:
    if by not in RULES:
        raise AutoencodeError(f"unknown {{parameter}} {by!r}: expected one of {', '.join(RULES)}",
                              parameter="by")  # fmt: skip
    return by


def check_fpr(fpr: float | None) -> float | None:
    if fpr is not None and not 0 < fpr < 1:
        raise AutoencodeError(f"{{parameter}} must lie strictly between 0 and 1, got {fpr}",
                              parameter="fpr")  # fmt: skip
    return fpr


def reconstruction_errors(run, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Each image's mean squared reconstruction error, pixels in [0, 1] (float64)."""
    return run.codings_and_errors(images, batch_size)[1]


@dataclass
class Scorer:
    """Anomaly scores of a run, fitted on its training codings and validation split."""

    run: object
    train_codings: np.ndarray
    k: int = 5
    valid: dict[str, np.ndarray] = field(default_factory=dict)  # each signal on the valid split

    def signals(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Both raw signals of ``images``: reconstruction error and distance to training codings."""
        codings, errors = self.run.codings_and_errors(images)  # the encoder once, not twice
        _, distances = nearest(codings, self.train_codings, self.k)
        return {"reconstruction": errors, "codings": distances.mean(1)}

    def combine(self, signals: dict[str, np.ndarray], by: str = "both") -> np.ndarray:
        """The score by one rule from the signals (``both``: standardised on validation, averaged)."""
        check_rule(by)
        if by != "both":
            return signals[by]
        return np.mean([self._standard(name, signals[name]) for name in RULES[:2]], axis=0)

    def _standard(self, name: str, values: np.ndarray) -> np.ndarray:
        reference = self.valid[name]
        return (values - reference.mean()) / max(reference.std(), 1e-12)

    def threshold(self, fpr: float, by: str = "both") -> float:
        """The score above which about ``fpr`` of the validation split lies."""
        check_fpr(fpr)
        return float(np.quantile(self.combine(self.valid, by), 1 - fpr, method="higher"))


def fit_scorer(run, reference: Dataset, k: int = 5) -> Scorer:
    """A scorer for ``run``: its codings of ``reference``'s training split, and both signals on
    its validation split (for ``both`` and thresholds)."""
    if reference.valid is None or len(reference.valid) == 0:
        raise DataError(f"dataset {reference.name!r} has no validation split: anomaly scores are "
                        "set against normal images the model did not train on")  # fmt: skip
    if not 1 <= k <= len(reference.train):
        raise AutoencodeError(f"{{parameter}} must lie between 1 and {len(reference.train)} (the "
                              f"training images), got {k}", parameter="k")  # fmt: skip
    scorer = Scorer(run, embed(run, reference.train.images), k)
    scorer.valid = scorer.signals(reference.valid.images)
    return scorer
