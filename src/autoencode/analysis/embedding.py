"""Codings as flat vectors, and 2-D maps of them: t-SNE (openTSNE), UMAP (optional), PCA.

t-SNE is openTSNE's FFT-accelerated t-SNE with PCA initialisation, on every core, and it stops
once the embedding has converged: after the early-exaggeration phase, the KL divergence is checked
every 25 iterations and the run ends when it improves by less than 0.1% (the last
iterations of a fixed 500 mostly polish what is already there).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autoencode.errors import AutoencodeError, ConfigError


def embed(run, images: np.ndarray, batch_size: int = 2000, progress: bool = False) -> np.ndarray:
    """The codings of uint8 ``images`` as an ``(N, D)`` float32 array (conv codings flattened)."""
    from tqdm.auto import tqdm

    starts = range(0, len(images), batch_size)
    parts = [
        run.encode(images[s : s + batch_size], batch_size).reshape(
            min(batch_size, len(images) - s), -1
        )
        for s in tqdm(starts, desc="codings", unit="batch", disable=None if progress else True)
    ]
    return np.concatenate(parts).astype(np.float32, copy=False)


class _Converged:
    """openTSNE callback: stop when the KL divergence improves by less than ``tolerance``."""

    def __init__(self, tolerance: float):
        self.tolerance = tolerance
        self.previous = None

    def __call__(self, iteration, error, embedding) -> bool:
        done = (
            self.previous is not None and (self.previous - error) < self.tolerance * self.previous
        )
        self.previous = error
        return done


def tsne(codings: np.ndarray, seed: int = 42, n_jobs: int | None = None, tolerance: float = 1e-3,
         max_iter: int = 500) -> np.ndarray:  # fmt: skip
    """openTSNE: perplexity 30, PCA initialisation, FFT gradients, stops at convergence."""
    from openTSNE import TSNEEmbedding, affinity, initialization

    from autoencode.training.device import available_cores

    n_jobs = n_jobs or available_cores()
    data = np.ascontiguousarray(codings, dtype=np.float64)
    affinities = affinity.PerplexityBasedNN(data, perplexity=min(30, (len(data) - 1) / 3),
                                            n_jobs=n_jobs, random_state=seed)  # fmt: skip
    init = initialization.pca(data, random_state=seed)
    embedding = TSNEEmbedding(init, affinities, negative_gradient_method="fft", n_jobs=n_jobs,
                              random_state=seed)  # fmt: skip
    embedding = embedding.optimize(n_iter=250, exaggeration=12, momentum=0.5)
    embedding = embedding.optimize(n_iter=max_iter, momentum=0.8, callbacks=_Converged(tolerance),
                                   callbacks_every_iters=25)  # fmt: skip
    return np.asarray(embedding, dtype=np.float32)


def pca(codings: np.ndarray, seed: int = 42, n_components: int = 2, **_) -> np.ndarray:
    """Projection on the first principal components (exact SVD of the centred codings)."""
    centred = codings - codings.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return (centred @ vt[:n_components].T).astype(np.float32)


def umap(codings: np.ndarray, seed: int = 42, **_) -> np.ndarray:
    """UMAP with its defaults (15 neighbours); needs the optional extra ``autoencode[umap]``."""
    try:
        import umap as umap_learn
    except ImportError:
        raise AutoencodeError(
            "--method umap needs the optional package umap-learn: pip install 'autoencode[umap]'"
        ) from None
    return umap_learn.UMAP(random_state=seed).fit_transform(codings).astype(np.float32)


MAP_METHODS: dict[str, Callable[..., np.ndarray]] = {"tsne": tsne, "umap": umap, "pca": pca}


def map_codings(codings: np.ndarray, method: str = "tsne", seed: int = 42) -> np.ndarray:
    """A 2-D map of ``(N, D)`` codings by ``method``: tsne, umap or pca."""
    if method not in MAP_METHODS:
        raise ConfigError(
            f"unknown map method {method!r}: expected one of {', '.join(MAP_METHODS)}"
        )
    if len(codings) < 5:
        raise AutoencodeError(f"a map needs at least 5 points, got {len(codings)}")
    return MAP_METHODS[method](
        np.asarray(codings, dtype=np.float32).reshape(len(codings), -1), seed=seed
    )


def write_codings(path, codings: np.ndarray, labels: np.ndarray | None = None):
    """Codings to ``.npy`` (the array) or ``.csv`` (``label`` first when known, then z0, z1, ...)."""
    from pathlib import Path

    from autoencode.training.checkpoint import atomic_write

    path = Path(path)
    if path.suffix not in (".npy", ".csv"):
        raise AutoencodeError(f"{path}: expected a .npy or .csv file name")

    def write(tmp):
        with open(tmp, "wb") as f:
            if path.suffix == ".npy":
                np.save(f, codings)
                return
            columns = [f"z{i}" for i in range(codings.shape[1])]
            table = codings if labels is None else np.column_stack([labels, codings])
            header = ",".join(columns if labels is None else ["label", *columns])
            fmt = "%.6g" if labels is None else ["%d"] + ["%.6g"] * codings.shape[1]
            np.savetxt(f, table, delimiter=",", header=header, comments="", fmt=fmt)

    return atomic_write(path, write)
