"""A run as the service holds it: its model, its batched functions, and what searching and
scoring need (the codings of the images searched in, the fitted anomaly scorer), prepared in
the background once the service has started.

Every function here runs in the model's thread (``batching``): ``embed``, ``reconstruct``,
``score`` and ``search`` take several requests' images at once and return one result a request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from autoencode.errors import AutoencodeError
from autoencode.run import Run, load_run

MAX_GENERATE = 256  # images one generate request may ask for
MAX_K = 100  # neighbours one search request may ask for


@dataclass
class Reference:
    """What search and score need, computed from the run's data when the service starts."""

    images: np.ndarray  # the images searched in (uint8), for /images/<index>.png
    labels: np.ndarray | None
    class_names: tuple[str, ...] | None
    codings: np.ndarray  # their flat codings, float32
    described: str  # "fashion-mnist train"
    scoring: torch.nn.Module | None = None  # analysis.scoring.ScoringModule
    scoring_settings: dict = field(default_factory=dict)
    scoring_error: str | None = None  # why this run cannot score, if it cannot


class Served:
    """One run behind the service, by ``name``."""

    def __init__(self, name: str, run: Run | str | Path, search_in: str = "train",
                 device: str = "cpu", data_dir=None):  # fmt: skip
        self.name = name
        self.run = load_run(run, device)  # in eval mode
        self.shape = tuple(self.run.config.model.input_shape)
        self.search_in, self.data_dir = search_in, data_dir
        self.reference: Reference | None = None
        self.reference_error: str | None = None
        self.ready = threading.Event()  # set when the reference is prepared, or failed

    # -- in the background, at start -------------------------------------------------------
    def prepare(self) -> None:
        """Compute the codings searched in and fit the scorer; errors are kept, not raised:
        a run whose data is not on this machine still embeds, reconstructs and generates."""
        try:
            self.reference = self._reference()
        except AutoencodeError as e:
            self.reference_error = str(e)
        except Exception as e:  # in a background thread: said by /runs and score/search, not lost
            self.reference_error = f"{type(e).__name__}: {str(e)[:200]}"
        finally:
            self.ready.set()

    def _reference(self) -> Reference:
        from autoencode.analysis.anomaly import fit_scorer
        from autoencode.analysis.embedding import embed
        from autoencode.analysis.scoring import ScoringModule, scorer_settings
        from autoencode.data.datasets import named_images

        data = self.run.load_dataset(self.data_dir)
        split, described, classes = named_images(data, self.search_in, self.data_dir)
        settings = scorer_settings(self.run.folder.read_metrics())
        scoring = scoring_error = None
        try:
            scorer = fit_scorer(self.run, data, settings["k"])
            threshold = scorer.threshold(settings["fpr"], settings["by"])
            scoring = ScoringModule(self.run.model, scorer, settings["by"], threshold)
            scoring = scoring.to(self.run.device).eval()
            settings["threshold"] = threshold
        except AutoencodeError as e:
            scorer, scoring_error = None, str(e)
        same = scorer is not None and self.search_in == "train"
        codings = scorer.train_codings if same else embed(self.run, split.images)
        return Reference(split.images, split.labels, classes, np.ascontiguousarray(codings),
                         described, scoring, settings, scoring_error)  # fmt: skip

    def describe(self) -> dict:
        """What /health and /runs say of the run."""
        c, h, w = self.shape
        reference = self.reference
        return {
            "name": self.name,
            "path": str(self.run.path),
            "preset": self.run.config.preset,
            "model": self.run.config.model.description,
            "input": {"height": h, "width": w, "channels": c},
            "codings_shape": list(self.run.model.codings_shape),
            "generative": self.run.model.generative,
            "samplers": self.run.folder.sampler_names(),
            "ready": self.ready.is_set(),
            "search_in": reference.described if reference else None,
            "search_size": len(reference.codings) if reference else None,
            "scoring": (reference.scoring_settings if reference and reference.scoring else None),
            "problem": self.reference_error or (reference.scoring_error if reference else None),
        }

    # -- batched: in the model's thread ----------------------------------------------------
    def embed(self, arrays: list[np.ndarray], options: list) -> list[np.ndarray]:
        return _split(self.run.encode(np.concatenate(arrays)), arrays)

    def reconstruct(self, arrays: list[np.ndarray], options: list) -> list[np.ndarray]:
        return _split(self.run.reconstruct(np.concatenate(arrays)), arrays)

    @torch.inference_mode()
    def score(self, arrays: list[np.ndarray], options: list) -> list[dict]:
        from autoencode.analysis.scoring import OUTPUTS

        scoring = self.reference.scoring
        images = torch.from_numpy(np.concatenate(arrays)).to(self.run.device)
        outputs = dict(zip(OUTPUTS, (o.cpu().numpy() for o in scoring(images)), strict=True))
        parts = {name: _split(values, arrays) for name, values in outputs.items()}
        return [{name: parts[name][i] for name in OUTPUTS} for i in range(len(arrays))]

    def search(self, arrays: list[np.ndarray], options: list) -> list[tuple]:
        from autoencode.analysis.neighbours import nearest

        codings = self.run.encode(np.concatenate(arrays)).reshape(sum(map(len, arrays)), -1)
        indices, distances = nearest(codings, self.reference.codings, max(options))
        return [(i[:, :k], d[:, :k]) for i, d, k in
                zip(_split(indices, arrays), _split(distances, arrays), options, strict=True)]  # fmt: skip

    # -- one request at a time ---------------------------------------------------------------
    def generate(self, n: int, seed: int | None, sampler: str | None) -> np.ndarray:
        return self.run.sample(n, seed, sampler)


def _split(values: np.ndarray, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """``values`` (one row an image of ``arrays`` joined) back into one part a request."""
    return np.split(values, np.cumsum([len(a) for a in arrays])[:-1])
