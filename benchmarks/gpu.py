"""Every seed and fast preset, and ``conv-image`` at 32, 64 and 128 px, one epoch each on a device
(``cuda`` by default), in float32 and in bf16 autocast: seconds per epoch, the validation loss
after it, peak memory (the GPU's ``max_memory_allocated``; on the CPU the process's peak RSS so
far), and, where a CPU run of this script was saved (``--baseline``), the CPU's seconds over the
device's. Written to run in one call when a GPU is lent; ``--device cpu --smoke`` (tiny random
data, a few seconds) is in the test suite so that it is known to run.

    python benchmarks/gpu.py --device cpu --out benchmarks/results/gpu_cpu.json   # the baseline
    python benchmarks/gpu.py                                                      # on cuda
    python benchmarks/gpu.py --device cpu --smoke --out /tmp/g.json

Fashion-MNIST for the 28×28 presets (the first 10,000 training images with --train 10000, the
whole set by default); photo patches (``photos.py``) for conv-image. Writes
benchmarks/results/gpu_<device>.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PRESETS = ("stacked", "conv", "vae", "stacked-fast", "conv-fast", "vae-fast")
IMAGE_SIZES = (32, 64, 128)
PRECISIONS = ("float32", "bf16")


def tiny(shape: tuple[int, ...], seed: int = 0):
    """Random uint8 images of ``shape`` (per image): 64 to train, 16 to validate."""
    import autoencode as ae

    rng = np.random.default_rng(seed)
    return ae.Dataset("random", ae.Split(rng.integers(0, 256, (64, *shape), np.uint8)),
                      ae.Split(rng.integers(0, 256, (16, *shape), np.uint8)))  # fmt: skip


def datasets(smoke: bool, train: int | None, image_train: int):
    """(preset, data) pairs in the order they run."""
    import autoencode as ae

    sys.path.insert(0, str(HERE))
    from photos import photo_patches

    fashion = tiny((28, 28)) if smoke else ae.load_dataset("fashion-mnist").subset(train)
    pairs = [(p, f"fashion-mnist {fashion.image_shape[1]}px", fashion) for p in PRESETS]
    for size in (16,) if smoke else IMAGE_SIZES:
        patches = tiny((size, size, 3)) if smoke else photo_patches(size, image_train, 1_000)
        pairs.append(("conv-image", f"photos {size}px", patches))
    return pairs


def one_epoch(preset: str, data, device: str, precision: str) -> dict:
    import torch

    import autoencode as ae

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as out:
        run = ae.train(preset, data, out, epochs=1, device=device, precision=precision,
                       progress=False, overwrite=True)  # fmt: skip
    row = run.history[0]
    peak = (torch.cuda.max_memory_allocated() if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # fmt: skip
    return {"s_per_epoch": row["seconds"], "val_loss": row["val_loss"],
            "peak_memory_mb": peak / 2**20, "device": run.config.runtime["device"],
            "threads": run.config.runtime["threads"]}  # fmt: skip


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--smoke", action="store_true", help="tiny random data, seconds")
    parser.add_argument("--train", type=int, help="Fashion-MNIST training images (default all)")
    parser.add_argument("--image-train", type=int, default=20_000, help="photo patches to train on")
    parser.add_argument("--baseline", type=Path, default=HERE / "results" / "gpu_cpu.json",
                        help="a CPU run of this script, for the ratios")  # fmt: skip
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    import torch

    out = args.out or HERE / "results" / f"gpu_{torch.device(args.device).type}.json"
    baseline = {}
    if args.baseline.is_file() and args.baseline.resolve() != out.resolve():
        baseline = {(r["preset"], r["data"], r["precision"]): r
                    for r in json.loads(args.baseline.read_text())["rows"]}  # fmt: skip
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else None
    report = {"device": args.device, "gpu": gpu, "torch": torch.__version__, "rows": []}
    for preset, name, data in datasets(args.smoke, args.train, args.image_train):
        for precision in PRECISIONS:
            row = {"preset": preset, "data": name, "precision": precision,
                   **one_epoch(preset, data, args.device, precision)}  # fmt: skip
            if cpu := baseline.get((preset, name, precision)):
                row["cpu_over_device"] = cpu["s_per_epoch"] / row["s_per_epoch"]
            report["rows"].append(row)
            print(f"{preset} {name} {precision}: {row['s_per_epoch']:.2f} s/epoch, val loss "
                  f"{row['val_loss']:.4f}, peak {row['peak_memory_mb']:,.0f} MB", flush=True)  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("| preset | data | precision | s/epoch | val loss | peak memory | CPU ÷ device |")
    print("|---|---|---|---|---|---|---|")
    for r in report["rows"]:
        ratio = f"{r['cpu_over_device']:.1f}×" if "cpu_over_device" in r else "–"
        print(f"| `{r['preset']}` | {r['data']} | {r['precision']} | {r['s_per_epoch']:.2f} | "
              f"{r['val_loss']:.4f} | {r['peak_memory_mb']:,.0f} MB | {ratio} |")  # fmt: skip
    return report


if __name__ == "__main__":
    main()
