"""Exact nearest neighbours in coding space, chunked, in torch: what search, anomaly scores and
the k-NN classifier share.

Candidates come from float32 matrix products (``|q|² - 2 q·x + |x|²``) over chunks of the
database, so memory stays at one ``queries × chunk`` block whatever the database's size; the
best candidates are then measured again exactly in float64 and ordered by (distance, index), so
that rounding never reorders near-ties and the same inputs always give the same answer.
"""

from __future__ import annotations

import numpy as np
import torch

from autoencode.errors import AutoencodeError

METRICS = ("euclidean", "cosine")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise AutoencodeError(f"unknown {{parameter}} {metric!r}: expected one of "
                              f"{', '.join(METRICS)}", parameter="metric")  # fmt: skip
    return metric


def nearest(queries: np.ndarray, database: np.ndarray, k: int = 8, metric: str = "euclidean",
            exclude: np.ndarray | None = None, query_chunk: int = 512,
            database_chunk: int = 32768) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The ``k`` nearest rows of ``database`` (N, D) to each row of ``queries`` (Q, D): indices
    (Q, k) int64 and distances (Q, k) float64, nearest first (ties by the lower index). Cosine
    distance is 1 - cos. ``exclude`` (Q,) names a database row each query must not find (itself,
    when queries are part of the database; -1 for none)."""
    check_metric(metric)
    queries, database = _rows(queries, "queries"), _rows(database, "database")
    if queries.shape[1] != database.shape[1]:
        raise AutoencodeError(f"queries have {queries.shape[1]} dimensions, the database "
                              f"{database.shape[1]}")  # fmt: skip
    available = len(database) - (exclude is not None)
    if not 1 <= k <= available:
        raise AutoencodeError(f"{{parameter}} must lie between 1 and {available} (the "
                              f"database's size), got {k}", parameter="k")  # fmt: skip
    if metric == "cosine":
        queries, database = _unit(queries), _unit(database)
    excluded = np.full(len(queries), -1) if exclude is None else np.asarray(exclude)
    indices = np.empty((len(queries), k), dtype=np.int64)
    distances = np.empty((len(queries), k))
    for s in range(0, len(queries), query_chunk):
        block = slice(s, s + query_chunk)
        candidates = _candidates(queries[block], database, min(2 * k + 8, available),
                                 excluded[block], database_chunk)  # fmt: skip
        indices[block], distances[block] = _exact(queries[block], database, candidates, k, metric)
    return indices, distances


def _rows(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or len(array) == 0 or not np.isfinite(array).all():
        raise AutoencodeError(f"{what}: expected a non-empty (N, D) array of finite numbers, "
                              f"got shape {array.shape}")  # fmt: skip
    return array


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float64)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def _candidates(queries: np.ndarray, database: np.ndarray, m: int, excluded: np.ndarray,
                chunk: int) -> np.ndarray:  # fmt: skip
    """The ``m`` best rows per query by the float32 expansion, over chunks of the database: each
    chunk's own best ``m`` first, then merged with the best so far (``m`` + ``m`` columns), so
    a ``queries × chunk`` block is made once and read once by ``topk``."""
    q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
    q_sq = (q * q).sum(1, keepdim=True)
    best_d = torch.full((len(q), 0), float("inf"))
    best_i = torch.empty((len(q), 0), dtype=torch.int64)
    rows = torch.arange(len(q))
    for s in range(0, len(database), chunk):
        x = torch.from_numpy(np.ascontiguousarray(database[s : s + chunk], dtype=np.float32))
        d = torch.addmm((x * x).sum(1)[None, :], q, x.T, alpha=-2).add_(q_sq)
        inside = (excluded >= s) & (excluded < s + len(x))
        d[rows[inside], torch.from_numpy(excluded[inside] - s)] = float("inf")
        top_d, top_j = d.topk(min(m, d.shape[1]), dim=1, largest=False)
        d_all, i_all = torch.cat([best_d, top_d], 1), torch.cat([best_i, top_j + s], 1)
        top = d_all.topk(min(m, d_all.shape[1]), dim=1, largest=False).indices
        best_d, best_i = d_all.gather(1, top), i_all.gather(1, top)
    return best_i.numpy()


def _exact(queries: np.ndarray, database: np.ndarray, candidates: np.ndarray, k: int,
           metric: str) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The candidates measured again in float64, the best k by (distance, index)."""
    difference = database[candidates].astype(np.float64) - queries[:, None, :].astype(np.float64)
    distance = np.sqrt((difference**2).sum(-1))
    if metric == "cosine":  # unit vectors: |a - b|² = 2 - 2 cos
        distance = distance**2 / 2
    order = np.lexsort((candidates, distance), axis=1)[:, :k]
    return np.take_along_axis(candidates, order, 1), np.take_along_axis(distance, order, 1)
