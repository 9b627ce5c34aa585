"""Time to the seed's quality: each fast preset against the seed's Keras code, in one script run.

For each model, the seed's Keras code trains as the seed writes it (stacked 10 epochs, conv 5,
VAE 50; ``../shared/peers/seed_keras.py``, its own venv) and its final validation loss is the
target (the seed's published values: 0.2858, 0.2656, 0.3082). Then the fast preset trains,
three seeds, each in a process of its own (torch imported before the clock starts, as the peer
imports TensorFlow before its own). Two times to the target, each to the end of the first epoch
whose validation loss is at or below it: the epochs alone (training and validation, as Keras'
``fit`` includes validation), and the whole ``ae.train`` call (building the model, the run
folder, a checkpoint per epoch) less the epochs after that one. The ratios are Keras' ``fit``
time (all its epochs) over the median of each. Writes benchmarks/results/time_to_quality.json.

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


def time_to(run: dict, target: float) -> tuple[float, float] | tuple[None, None]:
    """Seconds until the end of the first epoch at or below ``target``: the epochs alone
    (training and validation), and the whole ``ae.train`` call (model build, run folder,
    checkpoints) less the epochs after it. (None, None): never reached."""
    history = run["history"]
    for i, row in enumerate(history):
        if row["val_loss"] <= target:
            epochs = sum(r["seconds"] for r in history[: i + 1])
            return epochs, run["fit_s"] - sum(r["seconds"] for r in history[i + 1 :])
    return None, None


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
            run["time_to_target_s"], run["call_to_target_s"] = time_to(run, peer["val_loss"])
            runs.append(run)
            print(f"ours  {FAST[model]} seed {seed}: epochs {run['time_to_target_s']} s, whole "
                  f"call {run['call_to_target_s']} s (final val loss {run['val_loss']:.4f})",
                  flush=True)  # fmt: skip
        results[model] = {"keras": peer, "target_val_loss": peer["val_loss"],
                          "preset": FAST[model], "ours": runs}  # fmt: skip
        for key in ("time_to_target_s", "call_to_target_s"):
            times = [r[key] for r in runs]
            if None in times:  # a seed that never got there: no ratio
                results[model][f"median_{key}"] = results[model][f"ratio_{key}"] = None
                continue
            median = statistics.median(times)
            results[model][f"median_{key}"] = median
            results[model][f"ratio_{key}"] = peer["fit_s"] / median
            print(f"{model} ({key}): Keras {peer['fit_s']:.1f} s / ours {median:.2f} s = "
                  f"{peer['fit_s'] / median:.1f}×", flush=True)  # fmt: skip
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
