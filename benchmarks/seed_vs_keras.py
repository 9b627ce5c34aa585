"""The seed's Keras code against autoencode, same data, same machine, same script run.

Each side trains in a process of its own (so peak RSS is its own), alternating peer and ours so
that drifting load on a shared machine hits both alike. Writes benchmarks/results/seed_vs_keras.json
with the raw runs and the ratios: throughput = Keras s/epoch ÷ ours; RSS = ours ÷ Keras.

Set-up of the peer (its own venv): see ../shared/peers/README.md. Then:
    python benchmarks/seed_vs_keras.py --models stacked --seeds 42 43 44
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER = HERE.parent.parent / "shared" / "peers" / "seed_keras.py"
EPOCHS = {"stacked": 10, "conv": 5, "vae": 50}


def result_line(cmd: list[str], env: dict | None = None) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"{cmd[1]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def keras(model: str, epochs: int, python: str) -> dict:
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = result_line([python, str(PEER), model, str(epochs)], env)
    return {**result[model], "peak_rss_mb": result["peak_rss_mb"], "load_s": result["load_s"]}


def ours(model: str, epochs: int, seed: int) -> dict:
    return result_line([sys.executable, str(HERE / "_ours.py"), model, str(epochs), str(seed)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["stacked"], choices=sorted(EPOCHS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--keras-runs", type=int, default=2, choices=[1, 2],
                        help="Keras before ours (1), or before and after (2)")  # fmt: skip
    parser.add_argument("--epochs", type=int, help="override every model's epochs (quick checks)")
    parser.add_argument(
        "--keras-python", default=os.path.expanduser("~/.venvs/keras-peer/bin/python")
    )
    parser.add_argument("--out", default=str(HERE / "results" / "seed_vs_keras.json"))
    args = parser.parse_args()

    report = {"machine": {"cpus": os.cpu_count()}, "models": {}}
    for model in args.models:
        epochs = args.epochs or EPOCHS[model]
        runs_ours, runs_keras = [], []
        for i, seed in enumerate(args.seeds):
            # Keras before the first of ours and (with --keras-runs 2) after the last
            if i == 0 or (args.keras_runs == 2 and i == len(args.seeds) - 1):
                runs_keras.append(keras(model, epochs, args.keras_python))
                print(f"keras {model}: {runs_keras[-1]}", flush=True)
            runs_ours.append(ours(model, epochs, seed))
            print(f"ours  {model}: {runs_ours[-1]}", flush=True)
        med = {
            k: statistics.median(r[k] for r in runs_ours)
            for k in ("s_per_epoch", "val_loss", "peak_rss_mb")
        }
        kmed = {
            k: statistics.median(r[k] for r in runs_keras)
            for k in ("s_per_epoch", "val_loss", "peak_rss_mb")
        }
        report["models"][model] = {
            "epochs": epochs, "ours": runs_ours, "keras": runs_keras,
            "median_ours": med, "median_keras": kmed,
            "throughput_ratio": kmed["s_per_epoch"] / med["s_per_epoch"],
            "peak_rss_ratio": med["peak_rss_mb"] / kmed["peak_rss_mb"],
            "val_loss_delta": med["val_loss"] - kmed["val_loss"],
        }  # fmt: skip
        print(json.dumps({model: {k: v for k, v in report["models"][model].items()
                                  if k not in ("ours", "keras")}}, indent=2), flush=True)  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
