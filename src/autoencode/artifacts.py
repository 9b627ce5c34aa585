"""What the analysis commands leave in a run folder, each one call: figures, codings, a map.

Each function takes a :class:`Run` or a run folder's path and, where it needs images, the run's
own data unless ``data`` names other data; each writes atomically and returns what it wrote.
The CLI's ``reconstruct``, ``generate``, ``interpolate``, ``embed`` and ``map`` are these calls.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from autoencode.analysis.anomaly import check_fpr, check_rule, fit_scorer
from autoencode.analysis.embedding import check_map_method, embed, map_provenance, write_codings
from autoencode.analysis.evaluation import codings_map, run_data
from autoencode.analysis.neighbours import check_metric
from autoencode.analysis.search import SearchResult, search
from autoencode.data.batches import noisy_images
from autoencode.data.types import Dataset, Split
from autoencode.errors import AutoencodeError
from autoencode.figures import (
    captioned_rows_figure,
    image_grid_figure,
    map_figure,
    reconstruction_figure,
    save_figure,
    strip_figure,
)
from autoencode.io import write_csv, write_npy
from autoencode.run import Run, load_run


def save_reconstructions(run: Run | str | Path, data: Dataset | str | None = None, *,
                         split: str = "valid", images: int = 5, noise: float = 0.0,
                         seed: int = 0, out: str | Path | None = None,
                         data_dir=None) -> Path:  # fmt: skip
    """The first ``images`` of a split above their reconstructions (default
    RUN/figures/reconstructions.png); with ``noise``, the model is given the images with Gaussian
    noise of that standard deviation, shown between (what a denoising autoencoder is for)."""
    run = load_run(run)
    originals = run_data(run, data, data_dir).split(split).images[:images]
    inputs = noisy_images(originals, noise, seed) if noise > 0 else None
    outputs = run.reconstruct(originals if inputs is None else inputs)
    figure = reconstruction_figure(originals, outputs, inputs)
    return save_figure(figure, out or run.folder.figure("reconstructions"))


def save_samples(run: Run | str | Path, images: int = 12, *, seed: int = 42,
                 out: str | Path | None = None, npy: str | Path | None = None) -> list[Path]:  # fmt: skip
    """``images`` new images decoded from random codings, as a grid (default
    RUN/figures/samples.png) and, with ``npy``, as a float32 array; the same seed, the same images."""
    run = load_run(run)
    if not run.model.generative:
        raise AutoencodeError(f"{run.path}: a model with the {run.config.model.objective.kind!r} objective cannot generate; "
                              "train a variational one (preset vae)")  # fmt: skip
    samples = run.sample(images, seed)
    written = [save_figure(image_grid_figure(samples), out or run.folder.figure("samples"))]
    if npy:
        written.append(write_npy(npy, samples.astype(np.float32)))
    return written


def save_interpolation(run: Run | str | Path, between: tuple[int, int] = (0, 1),
                       data: Dataset | str | None = None, *, split: str = "valid", steps: int = 8,
                       out: str | Path | None = None, data_dir=None) -> Path:  # fmt: skip
    """Images decoded from ``steps`` evenly spaced points between the codings of two images of
    a split (default RUN/figures/interpolation.png)."""
    run = load_run(run)
    images = run_data(run, data, data_dir).split(split).images
    for index in between:
        if not 0 <= index < len(images):
            raise AutoencodeError(f"{{parameter}}: index {index} is outside the {split} split "
                                  f"(0 to {len(images) - 1})", parameter="between")  # fmt: skip
    i, j = between
    strip = strip_figure(run.interpolate(images[i], images[j], max(steps, 2)), f"{split} {i} → {j}")
    return save_figure(strip, out or run.folder.figure("interpolation"))


def save_codings(run: Run | str | Path, data: Dataset | str | None = None, *,
                 split: str = "valid", out: str | Path | None = None, data_dir=None,
                 progress: bool = False) -> tuple[Path, tuple[int, int]]:  # fmt: skip
    """The codings of a split as ``.npy`` (N, D) or ``.csv`` with a label column (default
    RUN/codings_<split>.npy); returns the path and the array's shape."""
    run = load_run(run)
    chosen = run_data(run, data, data_dir).split(split)
    codings = embed(run, chosen.images, progress=progress)
    path = write_codings(out or run.folder.codings_file(split), codings, chosen.labels)
    return path, codings.shape


def save_map(run: Run | str | Path, data: Dataset | str | None = None, *, method: str = "tsne",
             split: str = "valid", seed: int = 42, thumbnails: bool = False,
             out: str | Path | None = None, data_dir=None) -> dict:  # fmt: skip
    """A 2-D map of a split's codings, coloured by class (default RUN/figures/map_<method>.png
    for the validation split, map_<method>_<split>.png for another),
    its coordinates beside it as ``.npy``, and its trustworthiness (k = 10) recorded in
    metrics.json (section ``maps``). Returns the map's numbers and both paths."""
    check_map_method(method)  # before any work
    run = load_run(run)
    dataset = run_data(run, data, data_dir)
    chosen = dataset.split(split)
    result = codings_map(run, chosen, method, seed)
    png = Path(
        out or run.folder.figure(f"map_{method}" + ("" if split == "valid" else f"_{split}"))
    )
    title = f"{method} map of the {split} codings ({run.config.name})"
    figure = map_figure(result["coords"], chosen.labels, dataset.class_names,
                        chosen.images if thumbnails else None, title)  # fmt: skip
    save_figure(figure, png)
    coords = write_npy(png.with_suffix(".npy"), result["coords"])
    scores = {"trustworthiness": result["trustworthiness"], "seconds": result["seconds"]}
    record = dict(scores)
    if coords.resolve().is_relative_to(run.path.resolve()):
        # where the coordinates are and what they were drawn from, for `explore` to reuse them
        record["coords"] = str(coords.resolve().relative_to(run.path.resolve()))
        record["coords_sha256"] = hashlib.sha256(coords.read_bytes()).hexdigest()
        record |= map_provenance(run, chosen.images, seed)
    run.folder.record("maps", record, key=f"{method}_{split}")
    return {**scores, "points": len(chosen), "figure": png, "coords": coords}


def summary(target) -> str:
    """The seed's ``model.summary()`` table of a model, a preset (by name), a Run or a run folder."""
    from torch import nn

    from autoencode.models.autoencoder import build_model
    from autoencode.models.summary import summary as model_summary
    from autoencode.presets import PRESETS, get_preset

    if isinstance(target, nn.Module):
        return model_summary(target)
    if isinstance(target, str) and target in PRESETS:
        return model_summary(build_model(get_preset(target).model))
    return model_summary(load_run(target).model)


SPLITS = ("train", "valid", "test", "all")


def _images_of(dataset: Dataset, which: str, data_dir=None) -> tuple[Split, str, tuple | None]:
    """A split of ``dataset`` by name, or all the images of the dataset ``which`` names (a
    file or folder); with a name for it and its class names."""
    from autoencode.data.datasets import load_dataset

    if which in SPLITS:
        return dataset.split(which), f"{dataset.name} {which}", dataset.class_names
    other = load_dataset(which, data_dir)
    return other.split("all"), f"{other.name} (all)", other.class_names


def _is_index(query) -> bool:
    return isinstance(query, (int, np.integer)) or (isinstance(query, str) and query.isdigit())


def save_search(run: Run | str | Path, queries, data: Dataset | str | None = None, *,
                within: str = "train", query_split: str = "test", k: int = 8,
                metric: str = "euclidean", out: str | Path | None = None,
                csv: str | Path | None = None, data_dir=None) -> tuple[SearchResult, list[Path]]:  # fmt: skip
    """The ``k`` images of ``within`` (a split name, or other data's path) nearest in coding space
    to each query (indices into ``query_split``, image files, or a uint8 array): a figure, each
    query then its neighbours (default RUN/figures/search.png), and a CSV (default
    RUN/search.csv). Returns the result and both paths."""
    check_metric(metric)
    run = load_run(run)
    dataset = run_data(run, data, data_dir)
    database, name, classes = _images_of(dataset, within, data_dir)
    indexed = not isinstance(queries, np.ndarray) and any(_is_index(q) for q in queries)
    queries_from = dataset.split(query_split) if indexed else None
    result = search(run, queries, database, queries_from, k=k, metric=metric, within=name,
                    same_split=within == query_split, class_names=classes)  # fmt: skip
    figure = captioned_rows_figure(
        [np.concatenate([result.images[q : q + 1], result.neighbour_images[q]])
         for q in range(len(result.names))],
        [[_query_caption(result, q)] + [_neighbour_caption(result, q, r) for r in range(k)]
         for q, n in enumerate(result.names)],
    )  # fmt: skip
    written = [save_figure(figure, out or run.folder.figure("search")),
               write_csv(csv or run.path / "search.csv", result.rows())]  # fmt: skip
    return result, written


def _query_caption(result: SearchResult, q: int) -> str:
    known = result.labels is not None and result.labels[q] >= 0
    return f"query {result.names[q]}" + (
        f"\n{result.class_name(int(result.labels[q]))}" if known else ""
    )


def _neighbour_caption(result: SearchResult, q: int, rank: int) -> str:
    label = "" if result.neighbour_labels is None else result.class_name(
        int(result.neighbour_labels[q, rank])) + "\n"  # fmt: skip
    return f"{label}#{result.indices[q, rank]} d={result.distances[q, rank]:.2f}"


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
    reference = reference or run.load_dataset(data_dir)
    chosen, name, classes = _images_of(reference, data, data_dir)
    scorer = fit_scorer(run, reference, k)
    signals = scorer.signals(chosen.images)
    scores = scorer.combine(signals, by)
    threshold = None if fpr is None else scorer.threshold(fpr, by)
    stem = data if data in SPLITS else Path(data).stem
    rows = _score_rows(chosen, classes, signals, scores, threshold)
    csv = write_csv(out or run.path / f"scores_{stem}.csv", rows)
    png = save_figure(_anomaly_figure(chosen, scores, show), figure or run.folder.figure(f"anomalies_{stem}"))  # fmt: skip
    result = {"data": name, "by": by, "k": k, "images": len(scores), "csv": csv, "figure": png,
              "scores": scores, **signals}  # fmt: skip
    if threshold is not None:
        valid = scorer.combine(scorer.valid, by)
        result |= {"fpr": fpr, "threshold": threshold, "flagged": int((scores > threshold).sum()),
                   "valid_fpr": float((valid > threshold).mean())}  # fmt: skip
    return result


def _score_rows(chosen: Split, classes, signals: dict, scores: np.ndarray,
                threshold: float | None) -> list[dict]:  # fmt: skip
    rows = []
    for i, score in enumerate(scores):
        row: dict = {"index": i}
        if chosen.labels is not None:
            label = int(chosen.labels[i])
            row |= {"label": label, "class": classes[label] if classes and 0 <= label < len(classes) else str(label)}  # fmt: skip
        row |= {name: float(values[i]) for name, values in signals.items()}
        row["score"] = float(score)
        if threshold is not None:
            row["flagged"] = int(score > threshold)
        rows.append(row)
    return rows


def _anomaly_figure(chosen: Split, scores: np.ndarray, show: int):
    order = np.lexsort((np.arange(len(scores)), -scores))  # highest first, ties by index
    show = min(show, len(scores))
    most, least = order[:show], order[::-1][:show]
    return captioned_rows_figure(
        [chosen.images[most], chosen.images[least]],
        [[f"#{i} {scores[i]:.3g}" for i in most], [f"#{i} {scores[i]:.3g}" for i in least]],
        ["most\nanomalous", "least\nanomalous"],
    )
