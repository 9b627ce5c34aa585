"""Every preset on Fashion-MNIST under one stated budget, in one table.

Budget: each preset's own epochs (the seed's: stacked 10, conv 5, vae 50; the family: 10 for the
dense ones, 50 for beta-vae, 30 for conv-vae), seed 42, on this machine's CPU cores. For each:
parameters, seconds per epoch (median), the last epoch's validation loss terms, the report card
on the test split (BCE / MSE / PSNR; k-NN and linear probe on the codings), the reconstructions
of noisy test images (σ 0.2) against the clean ones, the codings' mean activation, and for
generative presets the Fréchet distance and precision / recall of 5,000 samples against the test
set in a cached Fashion-MNIST classifier's features (the floor: test against train). Writes
benchmarks/results/zoo.json and prints the table as Markdown.

    python benchmarks/zoo.py                     # every preset (about 15 minutes on 2 cores)
    python benchmarks/zoo.py --presets stacked denoising --epochs 2    # a quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def measure(name: str, data, folder: Path, epochs: int | None) -> dict:
    import autoencode as ae

    start = time.perf_counter()
    run = ae.train(
        name, data, folder / name, progress=False, **({"epochs": epochs} if epochs else {})
    )
    wall = time.perf_counter() - start
    card = ae.evaluate(run, data, baselines=False, noise=0.2, record=False)
    codings = ae.embed(run, data.test.images)
    last = run.history[-1]
    return {
        "preset": name,
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "epochs": len(run.history),
        "s_per_epoch": statistics.median(r["seconds"] for r in run.history),
        "train_s": wall,
        "val": {k.removeprefix("val_"): v for k, v in last.items() if k.startswith("val_")},
        "test_bce": card["bce"], "test_mse": card["mse"], "test_psnr": card["psnr"],
        "knn5": card["codings"]["knn5"], "linear_probe": card["codings"]["linear_probe"],
        "coding_dims": card["codings"]["dims"],
        "noisy_mse": card["noisy_inputs"]["mse"],
        "mean_activation": float(np.mean(codings)),
        "samples": card.get("samples"),
    }  # fmt: skip


def table(rows: list[dict]) -> str:
    head = ("| preset | parameters | s/epoch | epochs | val loss | test BCE | test MSE | PSNR dB "
            "| noisy-input MSE | k-NN | linear probe | samples: FD / precision / recall |")  # fmt: skip
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        terms = ", ".join(f"{k} {v:.4f}" for k, v in r["val"].items())
        lines.append(f"| `{r['preset']}` | {r['parameters']:,} | {r['s_per_epoch']:.2f} | "
                     f"{r['epochs']} | {terms} | {r['test_bce']:.4f} | {r['test_mse']:.4f} | "
                     f"{r['test_psnr']:.2f} | {r['noisy_mse']:.4f} | {r['knn5']:.4f} | "
                     f"{r['linear_probe']:.4f} | {_samples(r['samples'])} |")  # fmt: skip
    return "\n".join(lines)


def _samples(scores: dict | None) -> str:
    if not scores:
        return ""
    return f"{scores['frechet_distance']:.2f} / {scores['precision']:.3f} / {scores['recall']:.3f}"


def main() -> None:
    import autoencode as ae

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(ae.PRESETS))
    parser.add_argument(
        "--epochs", type=int, help="the same epochs for every preset (a quick look)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "zoo.json")
    args = parser.parse_args()
    data = ae.load_dataset("fashion-mnist")
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.presets:
            rows.append(measure(name, data, Path(tmp), args.epochs))
            print(json.dumps(rows[-1]), flush=True)
    report = {"wall_s": time.perf_counter() - start, "epochs_override": args.epochs, "rows": rows}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    floor = next((r["samples"] for r in rows if r["samples"]), None)
    print(table(rows))
    if floor:
        f, net = floor["floor"], floor["classifier"]
        print(f"floor (test against train): {_samples(f)}; classifier test accuracy "
              f"{net['test_accuracy']:.4f}, sha256 {net['sha256'][:12]}")  # fmt: skip
    print(f"wall time {report['wall_s'] / 60:.1f} min; wrote {args.out}")


if __name__ == "__main__":
    main()
