"""The crash harness of ``tests/training/test_crashes.py`` with 50 kills: training SIGKILLed at
random moments (uniform over the time a whole run takes once it holds the run's lock, a
checkpoint every 3 steps), resumed after each; every kill's folder must load or say in one line how to go on, and
each time the run gets to its end (then it starts again) it must have the uninterrupted run's
weights bit for bit.

    python benchmarks/crash_harness.py [--kills 50]

Writes benchmarks/results/crash_harness.json: each kill's moment, the state the folder loaded
as, and whether it fell inside a write (a temporary file left behind).
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"


def harness():
    sys.path.insert(0, str(TESTS))  # the test module imports conftest's helpers
    spec = importlib.util.spec_from_file_location("crashes", TESTS / "training" / "test_crashes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "crash_harness.json")
    args = parser.parse_args()
    crashes = harness()
    images, labels = crashes.synthetic_images(2500)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "d.npz", x_train=images[300:], y_train=labels[300:],
                 x_valid=images[:300], y_valid=labels[:300])  # fmt: skip
        subprocess.run([*crashes.COMMAND, "--data", str(tmp / "d.npz"), "--batch-size", "8",
                        "--epochs", "3", "--quiet", "--out", str(tmp / "whole")], check=True)  # fmt: skip
        seen = crashes.killed_again_and_again(tmp / "d.npz", tmp / "killed", args.kills,
                                              args.seed, whole=tmp / "whole")  # fmt: skip
    states = collections.Counter(state for _, state, _ in seen)
    ends = sum(state == "3 epochs" for _, state, _ in seen) + 1  # and the last, after the kills
    report = {"kills": len(seen), "runs_to_their_end": ends, "states": dict(states),
              "inside_a_write": sum(w for _, _, w in seen),
              "each": [{"s": round(t, 3), "state": st, "inside_a_write": w} for t, st, w in seen]}  # fmt: skip
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{len(seen)} kills: {dict(states)}; {report['inside_a_write']} inside a write; "
          f"{ends} runs to their end, each with the uninterrupted run's weights")  # fmt: skip


if __name__ == "__main__":
    main()
