"""How much the final validation loss depends on the seed, for the seed's Keras code and for ours.

One seed decides the initial weights and the shuffling; at the seed's SGD lr 1.5 that choice moves
the stacked autoencoder's 10-epoch validation BCE by several thousandths. This runs both sides over
the same list of seeds (alternating, each in a process of its own) and compares the two samples:
medians, ranges, and a two-sided permutation test of the difference in means.
Writes benchmarks/results/seed_spread.json.

    python benchmarks/seed_spread.py --model stacked --seeds $(seq 1 20)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

# benchmarks/ is on sys.path: it is the script's own folder
from seed_vs_keras import EPOCHS, HERE, result_line


def keras(model: str, epochs: int, seed: int, python: str) -> dict:
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [python, str(HERE / "_keras_seeded.py"), str(seed), model, str(epochs)]
    return {"seed": seed, **result_line(cmd, env)[model]}


def ours(model: str, epochs: int, seed: int) -> dict:
    return result_line([sys.executable, str(HERE / "_ours.py"), model, str(epochs), str(seed)])


def permutation_p(a: list[float], b: list[float], rounds: int = 100_000) -> float:
    """Two-sided p-value of the difference in means under random relabelling of the pooled runs."""
    pooled = np.array(a + b)
    observed = abs(np.mean(a) - np.mean(b))
    rng = np.random.default_rng(0)
    labels = np.argsort(rng.random((rounds, len(pooled))), axis=1) < len(a)
    diffs = np.abs((labels * pooled).sum(1) / len(a) - (~labels * pooled).sum(1) / len(b))
    return float((np.count_nonzero(diffs >= observed - 1e-12) + 1) / (rounds + 1))


def describe(losses: list[float], threshold: float) -> dict:
    return {
        "median": statistics.median(losses),
        "mean": statistics.fmean(losses),
        "stdev": statistics.stdev(losses) if len(losses) > 1 else 0.0,
        "min": min(losses),
        "max": max(losses),
        "share_at_or_below_threshold": sum(v <= threshold for v in losses) / len(losses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="stacked", choices=sorted(EPOCHS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(1, 21)))
    parser.add_argument("--threshold", type=float, default=0.287, help="the issue's target")
    parser.add_argument(
        "--keras-python", default=os.path.expanduser("~/.venvs/keras-peer/bin/python")
    )
    parser.add_argument("--out", default=str(HERE / "results" / "seed_spread.json"))
    args = parser.parse_args()

    epochs = EPOCHS[args.model]
    runs = {"ours": [], "keras": []}
    for seed in args.seeds:
        runs["keras"].append(keras(args.model, epochs, seed, args.keras_python))
        runs["ours"].append(ours(args.model, epochs, seed))
        print(f"seed {seed}: keras {runs['keras'][-1]['val_loss']:.4f} "
              f"ours {runs['ours'][-1]['val_loss']:.4f}", flush=True)  # fmt: skip
    losses = {side: [r["val_loss"] for r in rs] for side, rs in runs.items()}
    report = {
        "model": args.model,
        "epochs": epochs,
        "seeds": args.seeds,
        "threshold": args.threshold,
        "ours": describe(losses["ours"], args.threshold),
        "keras": describe(losses["keras"], args.threshold),
        "permutation_p_mean_difference": permutation_p(losses["ours"], losses["keras"]),
        "runs": runs,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
