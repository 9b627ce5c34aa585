"""``autoencode score``: anomaly scores of images, with a threshold at a false-positive rate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from autoencode.analysis.anomaly import check_fpr, check_rule, fit_scorer
from autoencode.data.datasets import SPLITS, named_images
from autoencode.data.types import Dataset, Split
from autoencode.figures import captioned_rows_figure, save_figure
from autoencode.io import stream_csv
from autoencode.run import Run, load_run


def save_scores(run: Run | str | Path, data: str = "test", *, by: str = "both",
                fpr: float | None = None, k: int = 5, show: int = 8,
                out: str | Path | None = None, figure: str | Path | None = None,
                data_dir=None, reference: Dataset | None = None) -> dict:  # fmt: skip
    """Anomaly scores of ``data`` (a split of the run's data, or other data's path) by ``by``
    (reconstruction, codings or both; see ``analysis.anomaly``) against the run's own data
    (``reference``: other data to stand for it): a CSV of each image's signals and score
    (default RUN/scores_<data>.csv), a figure of the ``show`` most and least anomalous
    (default RUN/figures/anomalies_<data>.png) and, with ``fpr``, the threshold at that
    false-positive rate on the validation split and what it flags."""
    check_rule(by)  # before any work
    check_fpr(fpr)
    run = load_run(run)
    reference = reference or run.load_dataset(data_dir=data_dir)
    chosen, name, classes = named_images(reference, data, data_dir)
    scorer = fit_scorer(run, reference, k)
    signals = scorer.signals(chosen.images)
    scores = scorer.combine(signals, by)
    threshold = None if fpr is None else scorer.threshold(fpr, by)
    stem = data if data in SPLITS else Path(data).stem
    rows = _score_rows(chosen, classes, signals, scores, threshold)
    csv = stream_csv(out or run.folder.scores_file(stem), rows)  # every digit: exact
    run.folder.record("scoring", {"by": by, "k": k, "fpr": fpr, "threshold": threshold})
    png = save_figure(_anomaly_figure(chosen, scores, show), figure or run.folder.figure(f"anomalies_{stem}"))  # fmt: skip
    result = {"data": name, "by": by, "k": k, "images": len(scores), "csv": csv, "figure": png,
              "scores": scores, **signals}  # fmt: skip
    if threshold is not None:
        valid = scorer.combine(scorer.valid, by)
        result |= {"fpr": fpr, "threshold": threshold, "flagged": int((scores > threshold).sum()),
                   "valid_fpr": float((valid > threshold).mean())}  # fmt: skip
    return result


def _score_rows(chosen: Split, classes, signals: dict, scores: np.ndarray,
                threshold: float | None) -> Iterator[dict]:  # fmt: skip
    """The CSV's rows, one image at a time (a million of them are never in memory at once)."""
    for i, score in enumerate(scores.tolist()):
        row: dict = {"index": i}
        if chosen.labels is not None:
            label = int(chosen.labels[i])
            row |= {"label": label, "class": classes[label] if classes and 0 <= label < len(classes) else str(label)}  # fmt: skip
        row |= {name: float(values[i]) for name, values in signals.items()}
        row["score"] = score
        if threshold is not None:
            row["flagged"] = int(score > threshold)
        yield row


def _anomaly_figure(chosen: Split, scores: np.ndarray, show: int):
    order = np.lexsort((np.arange(len(scores)), -scores))  # highest first, ties by index
    show = min(show, len(scores))
    most, least = order[:show], order[::-1][:show]
    return captioned_rows_figure(
        [chosen.images[most], chosen.images[least]],
        [[f"#{i} {scores[i]:.3g}" for i in most], [f"#{i} {scores[i]:.3g}" for i in least]],
        ["most\nanomalous", "least\nanomalous"],
    )
