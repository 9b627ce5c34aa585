"""The exported scorer against ``autoencode score``, on a whole test split, fed from PNG files.

For each run folder: ``autoencode score RUN --data test --fpr 0.05`` writes its CSV; ``autoencode
export RUN --part scorer`` writes the ONNX graph (taking that score's rule, k and fpr); the test
images are written as PNG files, read back with Pillow as the uint8 arrays a program would have,
and fed to onnxruntime in batches of 1,000. Printed and written to
benchmarks/results/scorer_export.json: the largest |onnxruntime - CSV| of the score and of each
signal, the flags that differ, the export's time and file size.

    python benchmarks/scorer_export.py runs/demo/stacked runs/demo/conv
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
from PIL import Image

import autoencode as ae

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "scorer_export.json"
BATCH = 1000


def png_pixels(images: np.ndarray, folder: Path) -> np.ndarray:
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:05d}.png")
    return np.stack([np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))])


def check(run_folder: str) -> dict:
    scored = ae.save_scores(run_folder, "test", by="both", fpr=0.05, k=5)
    started = time.perf_counter()
    done = ae.export_onnx(run_folder, part="scorer")
    seconds = time.perf_counter() - started
    run = ae.load_run(run_folder)
    with tempfile.TemporaryDirectory() as folder:
        images = png_pixels(run.load_dataset().test.images, Path(folder))
    session = onnxruntime.InferenceSession(done["path"], providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    got = {name: [] for name in names}
    started = time.perf_counter()
    for s in range(0, len(images), BATCH):
        for name, value in zip(
            names, session.run(None, {"images": images[s : s + BATCH]}), strict=True
        ):
            got[name].append(value)
    inference = time.perf_counter() - started
    got = {name: np.concatenate(values) for name, values in got.items()}
    with open(scored["csv"]) as f:
        rows = list(csv.DictReader(f))
    column = {"score": "score", "reconstruction": "reconstruction", "codings_distance": "codings"}
    differences = {
        output: float(np.abs(got[output] - np.array([float(r[c]) for r in rows])).max())
        for output, c in column.items()
    }
    flagged = np.array([r["flagged"] == "1" for r in rows])
    return {
        "run": str(run_folder),
        "preset": run.config.preset,
        "images": len(images),
        "input": f"{images.dtype} {images.shape}",
        "max_abs_difference": differences,
        "flags_differing": int((got["flagged"] != flagged).sum()),
        "flagged": int(flagged.sum()),
        "threshold": done["threshold"],
        "export_seconds": round(seconds, 1),
        "onnx_bytes": Path(done["path"]).stat().st_size,
        "onnxruntime_images_per_second": round(len(images) / inference),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    results = [check(r) for r in args.runs]
    for r in results:
        print(json.dumps(r))
    OUT.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
