"""Codings as flat vectors, and 2-D maps of them: t-SNE (openTSNE), UMAP (optional), PCA.

t-SNE is openTSNE's, with PCA initialisation, on every core, and it stops once the layout has
settled: after the early-exaggeration phase (250 iterations), it runs 50 iterations at a time and
stops when the points moved, on average, less than a fifth of the layout's spread in the last 50
(at most 500). Measured on 5,000 codings of the stacked model (2 cores): trustworthiness (k = 10)
is 0.9964 after 100 such iterations, 0.9965 after 200 (where this rule stops; scikit-learn's
``TSNE()`` reaches 0.9965) and 0.9966 at 400, while the layout only keeps expanding. Exact neighbours take 0.2 s there against annoy's 1.4 s. FFT gradients are fastest
while the layout is compact (the exaggeration phase: 2.5 s against Barnes-Hut's 3.4 s) but slow
down as it grows (750 iterations: 28 s against 10 s), so the second phase uses Barnes-Hut up to
10,000 points; above that, approximate neighbours and FFT throughout.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from autoencode.analysis.metrics import trustworthiness
from autoencode.data.types import Split
from autoencode.errors import AutoencodeError, ConfigError, DataError


def embed(run, images: np.ndarray, batch_size: int | None = None,
          progress: bool = False) -> np.ndarray:  # fmt: skip
    """The codings of uint8 ``images`` as an ``(N, D)`` float32 array (conv codings flattened),
    in batches of ``batch_size`` (by default the run's ``inference_batch``)."""
    from tqdm.auto import tqdm

    if len(images) == 0:
        raise DataError("no images to encode")
    batch_size = batch_size or run.inference_batch
    chunk = batch_size * max(1, 4096 // batch_size)  # the progress bar's step
    codings = None
    for s in tqdm(range(0, len(images), chunk), desc="codings", unit="chunk",
                  disable=None if progress else True):  # fmt: skip
        part = run.encode(images[s : s + chunk], batch_size)
        if codings is None:  # made once: a million codings are not held twice to be joined
            codings = np.empty((len(images), part[0].size), np.float32)
        codings[s : s + len(part)] = part.reshape(len(part), -1)
    return codings


def tsne(codings: np.ndarray, seed: int = 42, n_jobs: int | None = None, tolerance: float = 0.2,
         max_iter: int = 500) -> np.ndarray:  # fmt: skip
    """openTSNE: perplexity 30, PCA initialisation, stops when settled (see the module doc)."""
    from openTSNE import TSNEEmbedding, affinity, initialization

    from autoencode.training.device import available_cores

    n_jobs = n_jobs or available_cores()
    data = np.ascontiguousarray(codings, dtype=np.float64)
    small = len(data) <= 10_000
    affinities = affinity.PerplexityBasedNN(
        data, perplexity=min(30, (len(data) - 1) / 3), method="exact" if small else "annoy",
        n_jobs=n_jobs, random_state=seed,
    )  # fmt: skip
    init = initialization.pca(data, random_state=seed)
    embedding = TSNEEmbedding(init, affinities, negative_gradient_method="fft", n_jobs=n_jobs,
                              random_state=seed)  # fmt: skip
    embedding.optimize(n_iter=250, exaggeration=12, momentum=0.5, inplace=True)
    previous = np.array(embedding)
    method = "bh" if small else "fft"
    for _ in range(0, max_iter, 50):  # each call keeps the optimizer's gains
        embedding.optimize(n_iter=50, momentum=0.8, negative_gradient_method=method, inplace=True)
        current = np.array(embedding)
        moved = np.linalg.norm(current - previous, axis=1).mean() / current.std()
        if moved < tolerance:
            break
        previous = current
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
            "{parameter} umap needs the optional package umap-learn: pip install 'autoencode[umap]'",
            parameter="method",
        ) from None
    return umap_learn.UMAP(random_state=seed).fit_transform(codings).astype(np.float32)


MAP_METHODS: dict[str, Callable[..., np.ndarray]] = {"tsne": tsne, "umap": umap, "pca": pca}


def check_map_method(method: str) -> str:
    if method not in MAP_METHODS:
        raise ConfigError(
            f"unknown {{parameter}} {method!r}: expected one of {', '.join(MAP_METHODS)}",
            parameter="method",
        )
    return method


def map_codings(codings: np.ndarray, method: str = "tsne", seed: int = 42) -> np.ndarray:
    """A 2-D map of ``(N, D)`` codings by ``method``: tsne, umap or pca."""
    check_map_method(method)
    if len(codings) < 5:
        raise AutoencodeError(f"a map needs at least 5 points, got {len(codings)}")
    return MAP_METHODS[method](
        np.asarray(codings, dtype=np.float32).reshape(len(codings), -1), seed=seed
    )


def codings_map(run, split: Split, method: str = "tsne", seed: int = 42) -> dict:
    """Codings of ``split``, their 2-D map and its trustworthiness (k = 10)."""
    codings = embed(run, split.images, progress=len(split) > 20_000)
    start = time.perf_counter()
    coords = map_codings(codings, method, seed)
    seconds = time.perf_counter() - start
    sample = 5000 if len(codings) > 10_000 else None  # scored against all points either way
    trust = trustworthiness(codings, coords, k=10, sample=sample) if len(codings) > 20 else None
    return {"codings": codings, "coords": coords, "seconds": seconds, "trustworthiness": trust}


def map_provenance(run, images: np.ndarray, seed: int) -> dict[str, object]:
    """What a map of ``images`` was drawn from: the SHA-256 of the run's weights and of the
    images, and the seed. A map drawn earlier stands for a new one only where all three agree."""
    import hashlib

    pixels = hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()
    return {"weights_sha256": run.folder.weights_sha256(), "images_sha256": pixels, "seed": seed}


def write_codings(path, codings: np.ndarray, labels: np.ndarray | None = None):
    """Codings to ``.npy`` (the array) or ``.csv`` (``label`` first when known, then z0, z1, ...)."""
    from pathlib import Path

    from autoencode.io import atomic_write, write_npy

    path = Path(path)
    if path.suffix not in (".npy", ".csv"):
        raise AutoencodeError(f"{path}: expected a .npy or .csv file name")

    if path.suffix == ".npy":
        return write_npy(path, codings)
    columns = [f"z{i}" for i in range(codings.shape[1])]
    table = codings if labels is None else np.column_stack([labels, codings])
    header = ",".join(columns if labels is None else ["label", *columns])
    fmt = "%.6g" if labels is None else ["%d"] + ["%.6g"] * codings.shape[1]

    def write(tmp):
        np.savetxt(tmp, table, delimiter=",", header=header, comments="", fmt=fmt)

    return atomic_write(path, write)
