"""``autoencode zoo --minutes M`` on a folder of 3×32×32 PNGs: does the call keep to its budget?

The folder: random 32×32 crops (with flips) of the two photos scikit-learn ships
(``load_sample_images``: a Chinese temple and a flower), one class folder per photo, written as
PNG files. The command runs as a user runs it, in its own process; its wall time (start to exit,
the imports included) is set against the budget, and its table, page and run folders are checked.

    python benchmarks/zoo_budget.py                  # 12,000 crops, every preset, 10 minutes
    python benchmarks/zoo_budget.py --minutes 2 --presets stacked vae conv-fast

Writes benchmarks/results/zoo_budget.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent


def photo_crops(folder: Path, n: int, size: int = 32, seed: int = 0) -> Path:
    """``n`` random crops of scikit-learn's sample photos as PNG files, a class folder each."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images()
    rng = np.random.default_rng(seed)
    for index in range(n):
        which = index % len(photos.images)
        photo = photos.images[which]
        top = rng.integers(0, photo.shape[0] - size)
        left = rng.integers(0, photo.shape[1] - size)
        crop = photo[top : top + size, left : left + size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        label = Path(photos.filenames[which]).stem
        (folder / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(crop)).save(folder / label / f"{index:05d}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--images", type=int, default=12_000)
    parser.add_argument("--presets", nargs="+", help="default: every preset")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "zoo_budget.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = photo_crops(Path(tmp) / "crops", args.images)
        command = [sys.executable, "-m", "autoencode", "zoo", "--data", str(folder),
                   "--minutes", str(args.minutes), "--out", str(Path(tmp) / "zoo"), "--quiet",
                   *(["--presets", *args.presets] if args.presets else [])]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode:
            sys.exit(f"zoo failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        zoo = Path(tmp) / "zoo"
        result = json.loads((zoo / "zoo.json").read_text())
        written = {name: (zoo / name).is_file() for name in ("zoo.json", "zoo.md", "compare.html")}
    budget = args.minutes * 60
    report = {
        "images": args.images, "image_shape": [3, 32, 32], "budget_s": budget, "wall_s": wall,
        "wall_over_budget": wall / budget, "inside_call_s": result["wall_s"], "written": written,
        "split": result["split"],
        "rows": [{k: r[k] for k in ("preset", "epochs", "share_s", "train_s", "scoring_s",
                                    "val", "test_mse", "test_psnr", "knn5", "samples")}
                 for r in result["rows"]],
    }  # fmt: skip
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(done.stdout)
    print(f"wall {wall:.1f} s for a budget of {budget:.0f} s: {wall / budget:.3f} of it; "
          f"wrote {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
