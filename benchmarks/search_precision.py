"""Similarity search in coding space: precision at 8 on Fashion-MNIST, for every preset and two
baselines with no network, in one script on the same data.

For each preset (its own settings and epochs, seed 42, trained here on the 55,000 training
images), the first 1,000 test images are queries; the 8 nearest training images are found in
coding space (``ae.precision_at_k``: exact search, Euclidean and cosine), and precision at 8 is
the share of them that have the query's class. The baselines, in the same script: raw pixels
(784-d), and PCA of the training images with as many components as the preset's codings.

Writes benchmarks/results/search_precision.json after each preset (a rerun skips those it holds).

    python benchmarks/search_precision.py                       # every preset, about 15 minutes
    python benchmarks/search_precision.py --presets stacked conv vae
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import autoencode as ae
from autoencode.presets import PRESETS

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "search_precision.json"
QUERIES, K = 1000, 8


def precision(
    queries: np.ndarray, query_labels, database: np.ndarray, labels, metric: str
) -> float:
    indices, _ = ae.nearest(queries, database, k=K, metric=metric)
    return float((labels[indices] == query_labels[:, None]).mean())


def flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float64) / 255.0


def pca_features(train: np.ndarray, test: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    basis = vt[:dims].T
    return (train - mean) @ basis, (test - mean) @ basis


def baseline_row(data: ae.Dataset, dims: int) -> dict:
    train, test = flat(data.train.images), flat(data.test.images[:QUERIES])
    rows = {}
    features = (train, test) if dims >= train.shape[1] else pca_features(train, test, dims)
    for metric in ("euclidean", "cosine"):
        rows[metric] = precision(features[1], data.test.labels[:QUERIES], features[0],
                                 data.train.labels, metric)  # fmt: skip
    return rows


def preset_row(name: str, data: ae.Dataset, folder: Path) -> dict:
    start = time.perf_counter()
    run = ae.train(name, data, folder / name, seed=42, progress=False, device="cpu")
    trained = time.perf_counter() - start
    dims = int(np.prod(ae.embed(run, data.test.images[:1]).shape[1:]))
    row: dict = {"coding_dims": dims, "train_s": round(trained, 1)}
    for metric in ("euclidean", "cosine"):
        begin = time.perf_counter()
        row[metric] = ae.precision_at_k(run, data, QUERIES, K, metric=metric)
        row[f"{metric}_s"] = round(time.perf_counter() - begin, 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    presets, baselines = results.setdefault("presets", {}), results.setdefault("baselines", {})
    data = ae.load_dataset("fashion-mnist")
    if "pixels" not in baselines:
        baselines["pixels"] = baseline_row(data, 784)
    with tempfile.TemporaryDirectory() as folder:
        for name in args.presets:
            if name not in presets:
                presets[name] = preset_row(name, data, Path(folder))
            dims = presets[name]["coding_dims"]
            if f"pca{dims}" not in baselines and dims < 784:
                baselines[f"pca{dims}"] = baseline_row(data, dims)
            print(name, presets[name], flush=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")
    print("| codings | dims | Euclidean | cosine |\n|---|---|---|---|")
    for name, row in presets.items():
        print(f"| {name} | {row['coding_dims']} | {100 * row['euclidean']:.1f} | "
              f"{100 * row['cosine']:.1f} |")  # fmt: skip
    for name, row in baselines.items():
        print(f"| {name} | | {100 * row['euclidean']:.1f} | {100 * row['cosine']:.1f} |")


if __name__ == "__main__":
    main()
