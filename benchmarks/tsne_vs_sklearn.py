"""t-SNE of the stacked model's codings: ``autoencode map`` (whole command) against scikit-learn's
``TSNE()`` with its defaults (what the seed runs), on the same codings, in one script run.

Both maps are scored by trustworthiness (k = 10) against the same codings; at 70,000 points both
are scored on the same 5,000 random points (ranks over all 70,000), exactly at 5,000. Writes
benchmarks/results/tsne_vs_sklearn.json.

    python benchmarks/tsne_vs_sklearn.py --run runs/demo/stacked --sizes 5000 --repeats 3
    python benchmarks/tsne_vs_sklearn.py --run runs/demo/stacked --sizes 70000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPLIT = {5000: "valid", 70000: "all"}
SKLEARN = """
import sys, time, numpy as np
from sklearn.manifold import TSNE
codings = np.load(sys.argv[1])
start = time.perf_counter()
coords = TSNE().fit_transform(codings)
print("SECONDS", time.perf_counter() - start)
np.save(sys.argv[2], coords)
"""


def ours(run: Path, split: str, out: Path) -> float:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "autoencode", "map", str(run), "--split", split, "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def sklearn(codings_file: Path, out: Path) -> float:
    proc = subprocess.run([sys.executable, "-c", SKLEARN, str(codings_file), str(out)],
                          check=True, capture_output=True, text=True)  # fmt: skip
    return float(proc.stdout.split("SECONDS")[1])


def main() -> None:
    import autoencode as ae
    from autoencode.analysis.embedding import embed
    from autoencode.analysis.metrics import trustworthiness

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a stacked run folder (default: train one here)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[5000], choices=sorted(SPLIT))
    parser.add_argument("--repeats", type=int, default=1, help="runs of each; medians reported")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "tsne_vs_sklearn.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = ae.load_dataset("fashion-mnist")
        run_dir = args.run or tmp / "stacked"
        if args.run is None:
            ae.train("stacked", data, run_dir, progress=False)
        run = ae.load_run(run_dir)
        report = json.loads(args.out.read_text()) if args.out.is_file() else {}
        for size in args.sizes:
            split = data.split(SPLIT[size])
            codings = embed(run, split.images)
            np.save(tmp / "codings.npy", codings)
            ours_runs, sk_runs = [], []
            for _ in range(args.repeats):  # alternating, so drifting load hits both alike
                ours_runs.append(ours(run_dir, SPLIT[size], tmp / "ours.png"))
                sk_runs.append(sklearn(tmp / "codings.npy", tmp / "sklearn.npy"))
            ours_s, sk_s = statistics.median(ours_runs), statistics.median(sk_runs)
            ours_map = np.load(tmp / "ours.npy")
            sk_map = np.load(tmp / "sklearn.npy")
            sample = None if size <= 5000 else 5000
            row = {
                "points": len(codings), "dims": codings.shape[1],
                "ours_command_s": ours_s, "sklearn_fit_s": sk_s, "speedup": sk_s / ours_s,
                "ours_runs_s": ours_runs, "sklearn_runs_s": sk_runs,
                "ours_trustworthiness": trustworthiness(codings, ours_map, 10, sample=sample),
                "sklearn_trustworthiness": trustworthiness(codings, sk_map, 10, sample=sample),
                "trustworthiness_sample": sample,
            }  # fmt: skip
            row["trustworthiness_gap"] = (
                row["sklearn_trustworthiness"] - row["ours_trustworthiness"]
            )
            report[str(size)] = row
            print(json.dumps({size: row}, indent=2), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
