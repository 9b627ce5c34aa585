"""Preemption at random moments: SIGTERM, then SIGUSR1, each sent 10 times at a random moment of a
3-epoch run of ``autoencode train`` (uniform over 0.7 of the uninterrupted run's epochs' time,
once training has begun), and to one of the two processes of a ``torchrun`` run; each stop must
be exit 143 with one line (rank 0's, under torchrun, whose own exit status is its
ChildFailedError's), and each resumed run must end with the uninterrupted run's weights bit for
bit.

    python benchmarks/preemption.py [--times 10]

Writes benchmarks/results/preemption.json: for each signal and launcher, every moment, where it
stopped (epoch, step), and whether the resume was identical.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from conftest import synthetic_images  # noqa: E402  (the tests' synthetic images)

TRAIN = [sys.executable, "-m", "autoencode", "train"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            "-m", "autoencode", "train"]  # fmt: skip


def weights(folder: Path) -> dict:
    from autoencode.io import load_tensors

    return load_tensors(folder / "model.safetensors")[0]


def workers(pid: int) -> list[int]:
    """torchrun's worker processes: its children that run autoencode (not its helpers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == pid and b"autoencode" in command:
                found.append(int(entry.name))
    return found


def training_time(launcher: list[str], options: list[str], out: Path, env: dict) -> float:
    """Train the uninterrupted run; how long its epochs took."""
    proc = subprocess.Popen([*launcher, *options, "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    assert proc.wait() == 0
    from autoencode.run import load_run

    return sum(row["seconds"] for row in load_run(out).history)  # the epochs, not the exit


def one(launcher: list[str], options: list[str], out: Path, number: int, delay: float,
        env: dict) -> dict:  # fmt: skip
    """Train into ``out``, send ``number`` ``delay`` s after training began, resume."""
    proc = subprocess.Popen([*launcher, *options, "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    while not (out / "config.json").exists() and proc.poll() is None:
        time.sleep(0.005)
    time.sleep(delay)
    targets = workers(proc.pid) if launcher is TORCHRUN else [proc.pid]
    if proc.poll() is None and targets:
        os.kill(random.Random(delay).choice(targets), number)
    _, err = proc.communicate(timeout=300)
    ours = [line for line in err.splitlines() if line.startswith("autoencode: ")]
    where = re.search(r"at (epoch \d+, step \d+|the end of epoch \d+)", err)
    resumed = subprocess.run([*launcher, "--resume", str(out), "--quiet"], env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    return {"delay_s": round(delay, 3), "rc": proc.returncode, "lines": len(ours),
            "stopped_at": where.group(1) if where else None, "resumed_rc": resumed.returncode}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=10)
    parser.add_argument(
        "--launchers", nargs="+", choices=("one", "torchrun"), default=["one", "torchrun"]
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "preemption.json")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    report, rng = {}, random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images, labels = synthetic_images(6000)
        np.savez(tmp / "d.npz", x_train=images[500:], y_train=labels[500:],
                 x_valid=images[:500], y_valid=labels[:500])  # fmt: skip
        options = ["--data", str(tmp / "d.npz"), "--epochs", "3", "--batch-size", "8", "--quiet"]
        chosen = {"one": ("one process", TRAIN), "torchrun": ("torchrun, 2 processes", TORCHRUN)}
        for name, launcher in (chosen[k] for k in args.launchers):
            span = training_time(launcher, options, tmp / "whole", env)
            whole = weights(tmp / "whole")
            for number in (signal.SIGTERM, signal.SIGUSR1):
                rows = []
                for i in range(args.times):
                    out = tmp / f"{name[:3]}-{number}-{i}"
                    row = one(launcher, options, out, number, rng.uniform(0, 0.7 * span), env)
                    got = weights(out)
                    row["identical"] = all(torch.equal(whole[k], got[k]) for k in whole)
                    rows.append(row)
                    print(name, signal.Signals(number).name, row, flush=True)
                report[f"{name}: {signal.Signals(number).name}"] = rows
            shutil.rmtree(tmp / "whole")
    earlier = json.loads(args.out.read_text()) if args.out.exists() else {}
    args.out.write_text(json.dumps(earlier | report, indent=2) + "\n")  # other launchers kept
    bad = [r for rows in report.values() for r in rows if not r["identical"] or r["lines"] != 1]
    for key, rows in report.items():
        print(f"{key}: rc {sorted({r['rc'] for r in rows})}, one line each "
              f"{all(r['lines'] == 1 for r in rows)}, identical {sum(r['identical'] for r in rows)}"
              f"/{len(rows)}")  # fmt: skip
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
