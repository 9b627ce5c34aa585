"""Data beyond memory: one epoch of a small conv autoencoder on a 4 GB uint8 dataset
(1,000,000 × 64×64), memory-mapped, against the same data held in memory.

The script writes ``images.npy`` once (random pixels: the point is the reading, not what is
learnt), then trains in two child processes, one after the other, with the same model, settings
and seed through ``ae.train``: ``mapped`` gets the file memory-mapped (batches gathered from it
on the fly), ``memory`` gets it read into memory first. Each child reports its peak resident
memory (``ru_maxrss``, which counts the mapped file's pages a process holds) and the epoch's
images per second (training images / the epoch's seconds, validation included).
The file is in the system's file cache when the children run (it was just written, and this
machine has the memory); from a cold disk the mapped run reads at the disk's speed instead.

    python benchmarks/big_data.py            # 1,000,000 images; about 10 minutes here
    python benchmarks/big_data.py --n 50000  # a quick look

Writes benchmarks/results/big_data.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "big_data.json"
SIDE, VALID = 64, 10_000
MODEL = {"kind": "autoencoder", "encoder": {"kind": "conv", "filters": [4, 8]},
         "decoder": {"kind": "conv"}}  # fmt: skip
TRAINING = {"optimizer": "adam", "lr": 1e-3, "batch_size": 256, "epochs": 1}


def write_images(path: Path, n: int) -> None:
    """``n`` random 64×64 uint8 images as .npy, written in chunks (never all in memory)."""
    if path.is_file() and np.load(path, mmap_mode="r").shape == (n, SIDE, SIDE):
        return
    rng = np.random.default_rng(0)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|u1", "fortran_order": False, "shape": (n, SIDE, SIDE)}
        )
        for start in range(0, n, 50_000):
            f.write(rng.integers(0, 256, (min(50_000, n - start), SIDE, SIDE), np.uint8).tobytes())
    tmp.replace(path)


def child(mode: str, path: Path, out: Path) -> None:
    """Train one epoch and print a JSON line: seconds, images/s, peak RSS."""
    import autoencode as ae

    images = np.load(path, mmap_mode="r")
    if mode == "memory":
        images = np.array(images)  # the whole file read into this process
    data = ae.Dataset("big", ae.Split(images[VALID:]), ae.Split(images[:VALID]))
    start = time.perf_counter()
    run = ae.train(None, data, out / mode, model={**MODEL, "input_shape": [1, SIDE, SIDE]},
                   progress=False, overwrite=True, **TRAINING)  # fmt: skip
    row = run.history[-1]
    print(json.dumps({
        "mode": mode, "train_images": len(data.train), "epoch_seconds": row["seconds"],
        "images_per_s": len(data.train) / row["seconds"], "val_loss": row["val_loss"],
        "train_call_seconds": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("runs/bench-big-data"))
    parser.add_argument("--child", choices=["mapped", "memory"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = args.dir / f"images-{args.n}.npy"
    if args.child:
        return child(args.child, path, args.dir)
    args.dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    write_images(path, args.n)
    written = time.perf_counter() - start
    results = {"n": args.n, "image_shape": [SIDE, SIDE], "file_bytes": path.stat().st_size,
               "write_seconds": written, "model": MODEL, "training": TRAINING,
               "threads": os.cpu_count()}  # fmt: skip
    for mode in ("mapped", "memory"):
        proc = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--dir", str(args.dir),
                               "--child", mode], capture_output=True, text=True, check=True)  # fmt: skip
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(mode, results[mode], flush=True)
    results["mapped_over_memory_images_per_s"] = (
        results["mapped"]["images_per_s"] / results["memory"]["images_per_s"]
    )
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"mapped / in memory, images/s: {results['mapped_over_memory_images_per_s']:.3f}; "
          f"peak RSS mapped {results['mapped']['peak_rss_mb']:.0f} MB; wrote {OUT}")  # fmt: skip


if __name__ == "__main__":
    main()
