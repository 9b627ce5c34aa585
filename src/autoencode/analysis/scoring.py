"""A run's anomaly scorer as one torch module: uint8 images as they come, in; codings, both
signals, the score and its flag, out. What ``export --part scorer`` writes as ONNX and what the
service's score endpoint runs, so that the two and ``autoencode score`` give one answer.

It computes what :class:`~autoencode.analysis.anomaly.Scorer` computes, op for op where it
matters to the result: the pixels as ``x.to(float32) / 255`` (``data.batches.to_float``), the
reconstruction error in float64, the k nearest training codings found by the float32 expansion
``|q|² - 2 q·x + |x|²`` among ``2k + 8`` candidates and measured again in float64
(``analysis.neighbours``), each signal standardised by the validation split's mean and standard
deviation. The training codings are a buffer of the module (in an ONNX file: an initializer).
"""

from __future__ import annotations

import torch
from torch import nn

from autoencode.analysis.anomaly import RULES, Scorer, check_fpr, check_rule

OUTPUTS = ("codings", "reconstruction", "codings_distance", "score", "flagged")
DEFAULTS = {"by": "both", "k": 5, "fpr": 0.05}  # autoencode score's, and a threshold's rate


def scorer_settings(metrics: dict, by: str | None = None, k: int | None = None,
                    fpr: float | None = None) -> dict:  # fmt: skip
    """The rule, k and fpr of a scorer: as given, else those of the run's last ``autoencode
    score`` (``metrics``: its metrics.json), else :data:`DEFAULTS`; checked."""
    asked, recorded = {"by": by, "k": k, "fpr": fpr}, metrics.get("scoring", {})
    settings = {key: asked[key] if asked[key] is not None else recorded.get(key) or default
                for key, default in DEFAULTS.items()}  # fmt: skip
    check_rule(settings["by"]), check_fpr(settings["fpr"])
    return settings


class ScoringModule(nn.Module):
    """``forward(images)``: uint8 ``(N, H, W)`` (one channel) or ``(N, H, W, C)`` → the
    :data:`OUTPUTS`: codings ``(N, ...)`` float32, the two signals and the score ``(N,)``
    float64, and ``flagged`` ``(N,)`` bool (the score above ``threshold``)."""

    def __init__(self, model: nn.Module, scorer: Scorer, by: str, threshold: float):
        super().__init__()
        check_rule(by)
        self.model, self.by, self.k = model, by, scorer.k
        self.channels = model.config.input_shape[0]
        database = torch.as_tensor(scorer.train_codings, dtype=torch.float32).flatten(1)
        self.register_buffer("database", database.contiguous())
        self.register_buffer("database_sq", (database * database).sum(1))
        self.candidates = min(2 * self.k + 8, len(database))
        stats = [(scorer.valid[n].mean(), max(scorer.valid[n].std(), 1e-12)) for n in RULES[:2]]
        self.register_buffer("stats", torch.tensor(stats, dtype=torch.float64))
        self.register_buffer("threshold", torch.tensor(threshold, dtype=torch.float64))

    def forward(self, images: torch.Tensor):
        x = images.to(torch.float32) / 255.0
        x = x.unsqueeze(1) if self.channels == 1 else x.permute(0, 3, 1, 2)
        codings = self.model.encode(x)
        reconstructions = self.model.decode(codings).to(torch.float64)
        pixels = images.to(torch.float64) / 255.0
        pixels = pixels.unsqueeze(1) if self.channels == 1 else pixels.permute(0, 3, 1, 2)
        reconstruction = (reconstructions - pixels).square().flatten(1).mean(1)
        distance = self._knn_distance(codings.flatten(1))
        standard = [(signal - self.stats[i, 0]) / self.stats[i, 1]
                    for i, signal in enumerate((reconstruction, distance))]  # fmt: skip
        score = {"reconstruction": reconstruction, "codings": distance,
                 "both": (standard[0] + standard[1]) / 2}[self.by]  # fmt: skip
        return codings, reconstruction, distance, score, score > self.threshold

    def _knn_distance(self, q: torch.Tensor) -> torch.Tensor:
        """The mean distance to the k nearest training codings (``analysis.neighbours``)."""
        expanded = (q * q).sum(1, keepdim=True) - 2 * q @ self.database.T + self.database_sq
        candidates = expanded.topk(self.candidates, dim=1, largest=False).indices
        difference = self.database[candidates].to(torch.float64) - q[:, None].to(torch.float64)
        exact = difference.square().sum(-1).sqrt()
        return exact.topk(self.k, dim=1, largest=False).values.mean(1)
