"""Similarity search: the images nearest to a query in coding space.

Queries are images (files, or arrays) or indices into a split; the database is a split of the
run's data (or of other data). Search is exact (``analysis.neighbours``): 1,000 queries against
55,000 codings take well under a second, so an approximate index would buy nothing at this size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autoencode.analysis.embedding import embed
from autoencode.analysis.neighbours import check_metric, nearest
from autoencode.data.types import Dataset, Split
from autoencode.errors import AutoencodeError, DataError


@dataclass
class SearchResult:
    """Each query (a name, its image and label) with its ``k`` nearest images of ``within``."""

    names: list[str]
    images: np.ndarray  # the queries, uint8
    labels: np.ndarray | None  # the queries' labels (-1 for an image file), or None
    indices: np.ndarray  # (Q, k) into the database split
    distances: np.ndarray  # (Q, k)
    neighbour_images: np.ndarray  # (Q, k, ...) uint8
    neighbour_labels: np.ndarray | None  # (Q, k), or None without labels
    within: str  # the database: "<dataset> <split>"
    class_names: tuple[str, ...] | None = None

    def rows(self) -> list[dict]:
        """One row per query and rank: what the CSV holds."""
        rows = []
        for q, name in enumerate(self.names):
            for rank, (index, distance) in enumerate(
                zip(self.indices[q], self.distances[q], strict=True)
            ):
                row = {"query": name, "rank": rank + 1, "index": int(index),
                       "distance": float(distance)}  # fmt: skip
                if self.neighbour_labels is not None:
                    label = int(self.neighbour_labels[q, rank])
                    row |= {"label": label, "class": self.class_name(label)}
                rows.append(row)
        return rows

    def class_name(self, label: int) -> str:
        names = self.class_names or ()
        return names[label] if 0 <= label < len(names) else str(label)


def query_images(
    queries, split, shape: tuple[int, int, int]
) -> tuple[list[str], np.ndarray, list[int]]:
    """Queries (indices into ``split``, image paths, or a uint8 array of images) as names, images
    of the model's ``shape`` (C, H, W), and their indices in ``split`` (-1 for an image file)."""
    from autoencode.data.folders import read_image

    if isinstance(queries, np.ndarray):
        _fitting(queries[0], shape, "queries")
        return [f"image {i}" for i in range(len(queries))], queries, [-1] * len(queries)
    names, images, indices = [], [], []
    for query in queries:
        if isinstance(query, (int, np.integer)) or (isinstance(query, str) and query.isdigit()):
            index = int(query)
            if split is None:
                raise DataError(f"query {index}: an index, but no split to take it from")
            if not 0 <= index < len(split):
                raise DataError(f"query {index}: outside the split (0 to {len(split) - 1})")
            names.append(f"#{index}"), images.append(split.images[index]), indices.append(index)
        else:
            names.append(Path(query).name), indices.append(-1)
            images.append(_fitting(read_image(query), shape, query))
    return names, np.stack(images), indices


def _fitting(image: np.ndarray, shape: tuple[int, int, int], path) -> np.ndarray:
    c, h, w = shape
    found = (*image.shape[:2], image.shape[2] if image.ndim == 3 else 1)
    if found != (h, w, c):
        raise DataError(f"{path}: is {found[1]}×{found[0]} with {found[2]} channel(s); the model "
                        f"takes {w}×{h} images with {c} channel(s)")  # fmt: skip
    return image


def search(run, queries, database: Split, queries_from: Split | None = None, *, k: int = 8,
           metric: str = "euclidean", same_split: bool = False, within: str = "",
           class_names: tuple[str, ...] | None = None) -> SearchResult:  # fmt: skip
    """The ``k`` nearest images of ``database`` to each query, in coding space. Index queries
    name images of ``queries_from``; with ``same_split`` (it is the database), a query does not
    find itself."""
    check_metric(metric)
    names, images, positions = query_images(
        queries, queries_from, tuple(run.config.model.input_shape)
    )
    exclude = np.array(positions) if same_split else None
    indices, distances = nearest(
        embed(run, images), embed(run, database.images), k, metric, exclude
    )
    labels = None
    if queries_from is not None and queries_from.labels is not None:
        labels = np.array([queries_from.labels[p] if p >= 0 else -1 for p in positions])
    return SearchResult(
        names, images, labels, indices, distances, database.images[indices],
        None if database.labels is None else database.labels[indices], within, class_names,
    )  # fmt: skip


def precision_at_k(run, data: Dataset, queries: int = 1000, k: int = 8, *,
                   query_split: str = "test", within: str = "train",
                   metric: str = "euclidean") -> float:  # fmt: skip
    """The share of the ``k`` nearest ``within`` images that have the query's class, over the
    first ``queries`` images of ``query_split``."""
    chosen, database = data.split(query_split), data.split(within)
    if chosen.labels is None or database.labels is None:
        raise AutoencodeError("precision at k needs labels on both splits")
    result = search(run, list(range(min(queries, len(chosen)))), database, chosen, k=k,
                    metric=metric, same_split=query_split == within)  # fmt: skip
    return float((result.neighbour_labels == result.labels[:, None]).mean())
