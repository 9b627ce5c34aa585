"""``autoencode prepare`` on a folder of 70,000 PNGs (Fashion-MNIST's training and test images,
written out once, one subfolder per class): images per second, and a run killed halfway
(``SIGKILL`` to the command and its decoding processes) then run again, which must go on from
where it stopped and end with the very bytes of the uninterrupted run.

    python benchmarks/prepare_folder.py

Writes benchmarks/results/prepare_folder.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

import autoencode as ae

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "prepare_folder.json"
COMMAND = [sys.executable, "-m", "autoencode", "prepare"]


def write_pngs(folder: Path) -> int:
    """Fashion-MNIST's 70,000 images as PNGs in ``folder/<n>-<class>/``; their count."""
    data = ae.load_dataset("fashion-mnist")
    images = np.concatenate([data.valid.images, data.train.images, data.test.images])
    labels = np.concatenate([data.valid.labels, data.train.labels, data.test.labels])
    if folder.is_dir() and sum(1 for _ in folder.rglob("*.png")) == len(images):
        return len(images)
    shutil.rmtree(folder, ignore_errors=True)
    names = [f"{i}-{name.replace('/', '-')}" for i, name in enumerate(data.class_names)]
    for name in names:
        (folder / name).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image).save(folder / names[label] / f"{i:05d}.png")
    return len(images)


def prepare(folder: Path, out: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([*COMMAND, str(folder), "--out", str(out)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return time.perf_counter() - start, proc.stderr


def kill_halfway(folder: Path, out: Path, count: int) -> int:
    """Start a prepare, SIGKILL it (all its processes) once half the images are recorded done;
    the images recorded done then."""
    proc = subprocess.Popen([*COMMAND, str(folder), "--out", str(out)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    state, plan = out / ".partial" / "state.json", out / ".partial" / "plan.json"
    while proc.poll() is None:
        try:
            done = json.loads(state.read_text())["done"] * json.loads(plan.read_text())["chunk"]
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= count // 2:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return min(done, count)
        time.sleep(0.05)
    raise RuntimeError("the prepare finished before it could be killed halfway")


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("runs/bench-prepare"))
    args = parser.parse_args()
    folder = args.dir / "fashion-png"
    start = time.perf_counter()
    count = write_pngs(folder)
    print(f"{count} PNGs in {folder} ({time.perf_counter() - start:.0f} s)", flush=True)
    for name in ("straight", "resumed"):
        shutil.rmtree(args.dir / name, ignore_errors=True)
    seconds, _ = prepare(folder, args.dir / "straight")
    print(f"uninterrupted: {seconds:.1f} s, {count / seconds:.0f} images/s", flush=True)
    done = kill_halfway(folder, args.dir / "resumed", count)
    print(f"killed with {done} images recorded done", flush=True)
    again, said = prepare(folder, args.dir / "resumed")
    same = files(args.dir / "straight") == files(args.dir / "resumed")
    print(
        f"run again: {again:.1f} s; {said.strip()}; files equal to the uninterrupted run's: {same}"
    )
    OUT.write_text(json.dumps({
        "images": count, "workers": os.cpu_count(), "uninterrupted_seconds": seconds,
        "images_per_s": count / seconds, "killed_at_images_done": done,
        "rerun_seconds": again, "rerun_said": said.strip(), "files_equal": same,
    }, indent=2) + "\n")  # fmt: skip
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
