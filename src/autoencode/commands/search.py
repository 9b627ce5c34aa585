"""``autoencode search``: the images nearest to queries in codings space."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autoencode.analysis.neighbours import check_metric
from autoencode.analysis.search import SearchResult, search
from autoencode.data.datasets import named_images
from autoencode.data.types import Dataset
from autoencode.figures import captioned_rows_figure, save_figure
from autoencode.io import write_csv
from autoencode.run import Run, load_run


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
    dataset = run.load_dataset(data_dir, data=data)
    database, name, classes = named_images(dataset, within, data_dir)
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
               write_csv(csv or run.folder.search_file, result.rows())]  # fmt: skip
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
