"""One-class anomaly detection on Fashion-MNIST, the standard protocol (Golan & El-Yaniv 2018;
Ruff et al. 2018): for each of the 10 classes, train on that class's training images only, score
the whole test set (10,000 images), and report the AUROC with that class as normal.

For each preset and seed, the model trains at the preset's own settings on the class's images
of the training split (about 5,500; its validation images, about 500, are the normal reference
of the ``both`` rule), then every scoring rule of ``autoencode score`` is measured: the
reconstruction error, the mean distance to the 5 nearest training codings, and both. In the same
script, on the same images, two baselines with no network: the mean distance of the raw pixels to
the 5 nearest training images (k-NN), and the reconstruction error of PCA with 30 components.

Writes benchmarks/results/one_class.json after every cell (a rerun skips the cells it holds).

    python benchmarks/one_class.py --presets stacked conv vae --seeds 42 43 44
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

import autoencode as ae
from autoencode.analysis.anomaly import RULES, fit_scorer

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "one_class.json"


def class_data(data: ae.Dataset, c: int) -> ae.Dataset:
    """The normal class's training and validation images; the whole test split."""

    def only(split: ae.Split) -> ae.Split:
        keep = split.labels == c
        return ae.Split(split.images[keep], split.labels[keep])

    return ae.Dataset(f"fashion-mnist-{c}", only(data.train), only(data.valid), data.test,
                      data.class_names)  # fmt: skip


def model_cell(preset: str, seed: int, data: ae.Dataset, c: int, folder: Path) -> dict:
    start = time.perf_counter()
    normal = class_data(data, c)
    run = ae.train(preset, normal, folder / f"{preset}-{c}-{seed}", seed=seed, progress=False,
                   overwrite=True, device="cpu")  # fmt: skip
    trained = time.perf_counter() - start
    scorer = fit_scorer(run, normal, k=5)
    signals = scorer.signals(data.test.images)
    anomalous = data.test.labels != c
    aurocs = {rule: roc_auc_score(anomalous, scorer.combine(signals, rule)) for rule in RULES}
    return {**aurocs, "train_s": round(trained, 1), "s": round(time.perf_counter() - start, 1)}


def baseline_cell(data: ae.Dataset, c: int) -> dict:
    normal = class_data(data, c)
    train = normal.train.images.reshape(len(normal.train), -1) / 255.0
    test = data.test.images.reshape(len(data.test), -1) / 255.0
    _, distances = ae.nearest(test, train, k=5)
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    basis = vt[:30]
    rebuilt = (test - mean) @ basis.T @ basis + mean
    anomalous = data.test.labels != c
    return {"pixels_knn": roc_auc_score(anomalous, distances.mean(1)),
            "pca30_reconstruction": roc_auc_score(anomalous, ((test - rebuilt) ** 2).mean(1))}  # fmt: skip


def summarise(results: dict) -> dict:
    """Per method: the mean AUROC over the 10 classes for each seed, then the mean of those and
    their spread; and each class's AUROC averaged over the seeds."""
    table = {}
    for key, cells in results["cells"].items():
        per_seed: dict[str, list[float]] = {}
        per_class: dict[str, list[float]] = {}
        for cell, value in cells.items():
            c, _, seed = cell.partition("/")
            per_seed.setdefault(seed, []).append(value)
            per_class.setdefault(c, []).append(value)
        means = [statistics.mean(v) for v in per_seed.values() if len(v) == 10]
        table[key] = {
            "mean": statistics.mean(means) if means else None,
            "spread_over_seeds": statistics.pstdev(means) if len(means) > 1 else 0.0,
            "seeds": len(means),
            "per_class": {c: statistics.mean(v) for c, v in sorted(per_class.items())},
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["stacked", "conv", "vae"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--classes", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    out = args.out
    results = json.loads(out.read_text()) if out.is_file() else {"cells": {}, "seconds": {}}
    data = ae.load_dataset("fashion-mnist")
    start = time.perf_counter()
    for c in args.classes:
        if f"{c}/-" not in results["cells"].get("baseline:pixels_knn", {}):
            for name, value in baseline_cell(data, c).items():
                results["cells"].setdefault(f"baseline:{name}", {})[f"{c}/-"] = value
    with tempfile.TemporaryDirectory() as folder:
        for preset in args.presets:
            for seed in args.seeds:
                for c in args.classes:
                    if f"{c}/{seed}" in results["cells"].get(f"{preset}:both", {}):
                        continue
                    cell = model_cell(preset, seed, data, c, Path(folder))
                    for rule in RULES:
                        results["cells"].setdefault(f"{preset}:{rule}", {})[f"{c}/{seed}"] = cell[
                            rule
                        ]
                    results["seconds"][f"{preset}/{c}/{seed}"] = cell["s"]
                    print(f"{preset} class {c} seed {seed}: "
                          + ", ".join(f"{r} {cell[r]:.4f}" for r in RULES) + f" ({cell['s']} s)",
                          flush=True)  # fmt: skip
                    results["summary"] = summarise(results)
                    out.write_text(json.dumps(results, indent=2) + "\n")
    results["summary"] = summarise(results)
    results["wall_s_this_run"] = round(time.perf_counter() - start)
    out.write_text(json.dumps(results, indent=2) + "\n")
    for key, row in results["summary"].items():
        if row["mean"] is not None:
            print(f"{key:32s} mean AUROC {100 * row['mean']:.1f} ± {100 * row['spread_over_seeds']:.1f} "
                  f"({row['seeds']} seeds)")  # fmt: skip


if __name__ == "__main__":
    main()
