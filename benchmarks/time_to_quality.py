"""Time to the seed's quality: each fast preset against the seed's Keras code, in one script run.

For each model, the seed's Keras code trains as the seed writes it (stacked 10 epochs, conv 5,
VAE 50; ``../shared/peers/seed_keras.py``, its own venv) and its final validation loss is the
target (the seed's published values: 0.2858, 0.2656, 0.3082). Then the fast preset trains,
three seeds, each in a process of its own; its time to the target is the training time, from
the first step to the end of the first epoch whose validation loss is at or below the target
(validation included, as Keras' ``fit`` includes it). The ratio is Keras' training time
(``fit``, all its epochs) over the median of ours. Writes benchmarks/results/time_to_quality.json.

    python benchmarks/time_to_quality.py                     # about 10 minutes on 2 cores
    python benchmarks/time_to_quality.py --models stacked --seeds 42
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from seed_vs_keras import EPOCHS, HERE, keras, result_line

FAST = {"stacked": "stacked-fast", "conv": "conv-fast", "vae": "vae-fast"}


def ours(preset: str, seed: int) -> dict:
    return result_line([sys.executable, str(HERE / "_ours.py"), preset, "0", str(seed)])


def time_to(history: list[dict], target: float) -> float | None:
    """Seconds of training until the first epoch at or below ``target`` (None: never)."""
    elapsed = 0.0
    for row in history:
        elapsed += row["seconds"]
        if row["val_loss"] <= target:
            return elapsed
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(FAST), choices=list(FAST))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument(
        "--keras-python", default=os.path.expanduser("~/.venvs/keras-peer/bin/python")
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "time_to_quality.json")
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for model in args.models:
        peer = keras(model, EPOCHS[model], args.keras_python)
        print(f"keras {model}: {peer['fit_s']:.1f} s, val loss {peer['val_loss']:.4f}", flush=True)
        runs = []
        for seed in args.seeds:
            run = ours(FAST[model], seed)
            run["time_to_target_s"] = time_to(run["history"], peer["val_loss"])
            runs.append(run)
            print(f"ours  {FAST[model]} seed {seed}: {run['time_to_target_s']} s "
                  f"(final val loss {run['val_loss']:.4f})", flush=True)  # fmt: skip
        times = [r["time_to_target_s"] for r in runs]
        median = statistics.median(t if t is not None else float("inf") for t in times)
        results[model] = {
            "keras": peer, "target_val_loss": peer["val_loss"], "preset": FAST[model],
            "ours": runs, "median_time_to_target_s": median,
            "ratio": peer["fit_s"] / median if median else None,
        }  # fmt: skip
        print(f"{model}: Keras {peer['fit_s']:.1f} s / ours {median:.2f} s = "
              f"{results[model]['ratio']:.1f}×", flush=True)  # fmt: skip
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
