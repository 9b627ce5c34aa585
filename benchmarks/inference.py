"""Inference throughput: ``autoencode embed``, ``score`` and ``search`` over the 70,000
Fashion-MNIST images and over 1,000,000 prepared 64×64 images, against onnxruntime running the
exported encoder on the same inputs.

Each command runs as its own process, the way a user runs it (``python -m autoencode ...``), and
is measured from the outside: wall seconds (start-up, loading the model and the data, writing the
result included), images/s (the images the command goes through over those seconds), and peak
resident memory (the command's ``ru_maxrss`` from ``os.wait4`` in a small launcher it is forked
from, which counts the pages of a mapped file the process holds). The onnxruntime peer is a
process that reads the same images the same way (the same split, batches of 2,000 read from the
file for prepared data), runs the encoder exported by ``autoencode export --part encoder`` (CPU
provider, its default threads) and writes the codings as ``.npy``: the work of ``embed``. Its
codings are compared with ``embed``'s.

- **Fashion-MNIST**: the seed's ``stacked`` and ``conv`` presets, trained one epoch (the weights'
  quality does not change the work); ``embed --split all`` and ``score --data all`` (70,000
  images; score also encodes the 55,000 training images it measures distances to) and ``search``
  of 10 test images in all 70,000.
- **1,000,000 × 64×64** (greyscale, random pixels: the point is the reading; 4 GB) written as
  ``.npy`` and made prepared data (``autoencode prepare``); a small ``conv-image`` model (channels
  8 to 64, 64 codings) trained one epoch on 20,000 of them; ``embed``, ``score`` and ``search``
  with ``--data`` / ``--in`` the prepared folder (score's reference: the 20,000).

    python benchmarks/inference.py                    # about 20 minutes here
    python benchmarks/inference.py --n 100000         # the big part smaller
    python benchmarks/inference.py --n 0              # only Fashion-MNIST (the big part kept)
    python benchmarks/inference.py --smoke --dir /tmp/i --out /tmp/i.json   # 3,000 images

Writes benchmarks/results/inference.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SIDE = 64
BATCH = 2000  # the onnxruntime peer's batch (embed takes the run's inference_batch)
SMALL_IMAGE_MODEL = {"width": 8, "most": 64, "codings": 64}


# Runs the command in a child of its own and writes the child's peak RSS (KB). A process
# started straight from this one would not do: Linux carries the peak of the memory a process
# had before ``exec`` into its ``ru_maxrss`` (a fork of this script, with torch and a model in
# it, starts at this script's size); this small launcher is what the command is forked from.
LAUNCH = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured(command: list[str], log: Path) -> dict:
    """Run ``command``; its wall seconds and peak RSS (MB), or a RuntimeError with its output."""
    rss = log.with_suffix(".rss")
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.run([sys.executable, "-S", "-c", LAUNCH, str(rss), *command],
                              stdout=out, stderr=subprocess.STDOUT,
                              env={**os.environ, "TQDM_DISABLE": "1"})  # fmt: skip
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{log.read_text()[-3000:]}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(int(rss.read_text()) / 1024)}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "autoencode", *args]


def images_of(data: str, split: str) -> np.ndarray:
    """The images ``embed`` reads: a split of a built-in dataset, or of a data path."""
    from autoencode.data.datasets import load_dataset

    return load_dataset(data).split(split).images


def onnx_child(model: str, data: str, split: str, out: str) -> None:
    """The peer: the exported encoder over the split's images in batches, codings to ``out``."""
    import onnxruntime

    from autoencode.data.batches import FileRows

    images = images_of(data, split)
    rows = FileRows(images) if FileRows.fits(images) else images
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    codings = None
    for s in range(0, len(rows), BATCH):
        batch = np.asarray(rows[s : s + BATCH], dtype=np.float32) / 255.0
        batch = batch[:, None] if batch.ndim == 3 else batch.transpose(0, 3, 1, 2)
        (result,) = session.run(None, {name: np.ascontiguousarray(batch)})
        result = result.reshape(len(batch), -1)
        if codings is None:
            codings = np.empty((len(rows), result.shape[1]), np.float32)
        codings[s : s + len(batch)] = result
    np.save(out, codings)


def commands(run: Path, data: str | None, split: str, query_split: str, work: Path) -> dict:
    """embed, score, search and the onnxruntime peer on ``run``, over ``data`` (None: the run's
    own data) ``split``; each timed from the outside."""
    import autoencode as ae

    over = [] if data is None else ["--data", data]
    images = images_of(data or str(ae.load_run(run).config.data.location), split)
    n = len(images)
    codings = work / f"{run.name}-codings.npy"
    rows = {}
    rows["embed"] = measured(cli("embed", str(run), "--split", split, "--out", str(codings),
                                 *over), work / "embed.log")  # fmt: skip
    score_data = data or split
    rows["score"] = measured(cli("score", str(run), "--data", score_data, "--out",
                                 str(work / "scores.csv"), "--figure", str(work / "scores.png")),
                             work / "score.log")  # fmt: skip
    queries = [str(i) for i in range(10)]
    rows["search"] = measured(cli("search", str(run), *queries, "--split", query_split, "--in",
                                  score_data, "--out", str(work / "search.png"), "--csv",
                                  str(work / "search.csv"), *over), work / "search.log")  # fmt: skip
    model = ae.export_onnx(str(run), str(work / f"{run.name}-encoder.onnx"), part="encoder")["path"]
    peer = work / f"{run.name}-onnx-codings.npy"
    rows["onnxruntime encoder"] = measured(
        [sys.executable, __file__, "--onnx-child", str(model), data or str(ae.load_run(run).config.data.location),
         split, str(peer)], work / "onnx.log")  # fmt: skip
    for row in rows.values():
        row["images"] = n
        row["images_per_s"] = round(n / row["seconds"])
    ours, theirs = np.load(codings, mmap_mode="r"), np.load(peer, mmap_mode="r")
    difference = max(float(np.abs(ours[s : s + 100_000] - theirs[s : s + 100_000]).max())
                     for s in range(0, n, 100_000))  # fmt: skip
    return {"commands": rows, "codings_dimensions": int(ours.shape[1]),
            "max_abs_codings_difference": difference,
            "embed_over_onnxruntime_seconds": round(rows["embed"]["seconds"] / rows["onnxruntime encoder"]["seconds"], 3)}  # fmt: skip


def fashion(work: Path, presets: list[str]) -> dict:
    import autoencode as ae

    results = {}
    for preset in presets:
        run = work / f"fashion-{preset}"
        ae.train(preset, "fashion-mnist", run, epochs=1, progress=False, overwrite=True)
        results[preset] = commands(run, None, "all", "test", work)
        print(preset, json.dumps(results[preset]), flush=True)
    return results


def big(work: Path, n: int, train: int) -> dict:
    import autoencode as ae
    from autoencode.presets import image_model

    sys.path.insert(0, str(HERE))
    from big_data import write_images  # the same random 64×64 file big_data.py trains on

    source = work / f"images-{n}.npy"
    start = time.perf_counter()
    write_images(source, n)
    written = time.perf_counter() - start
    prepared = work / f"prepared-{n}"
    prepare = measured(cli("prepare", str(source), "--out", str(prepared), "--quiet"),
                       work / "prepare.log")  # fmt: skip
    run = work / "big-conv-image"
    model = image_model((1, SIDE, SIDE), **SMALL_IMAGE_MODEL)
    ae.train("conv-image", str(prepared), run, model=model, epochs=1, progress=False,
             overwrite=True, train_size=train, valid_size=max(100, train // 10))  # fmt: skip
    result = commands(run, str(prepared), "all", "valid", work)
    return {"n": n, "file_bytes": source.stat().st_size, "write_seconds": round(written, 1),
            "prepare": prepare, "model": SMALL_IMAGE_MODEL, "trained_on": train, **result}  # fmt: skip


def table(results: dict) -> str:
    lines = ["| data | model | command | images | s | images/s | peak RSS MB |",
             "|---|---|---|---:|---:|---:|---:|"]  # fmt: skip
    cases = [("Fashion-MNIST", name, r) for name, r in results.get("fashion", {}).items()]
    if "big" in results:
        cases.append((f"{results['big']['n']:,} × 64×64", "conv-image small", results["big"]))
    for data, model, r in cases:
        for command, row in r["commands"].items():
            lines.append(f"| {data} | {model} | {command} | {row['images']:,} | {row['seconds']} "
                         f"| {row['images_per_s']:,} | {row['peak_rss_mb']:,} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="images of the big part")
    parser.add_argument("--train", type=int, default=20_000, help="big part: images trained on")
    parser.add_argument("--presets", nargs="*", default=["stacked", "conv"])
    parser.add_argument("--dir", type=Path, default=Path("runs/bench-inference"))
    parser.add_argument("--smoke", action="store_true", help="the big part on 3,000 images")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "inference.json")
    parser.add_argument("--onnx-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.onnx_child:
        return onnx_child(*args.onnx_child)
    if args.smoke:  # the big part's path (prepared data, --data / --in) on 3,000 images
        args.n, args.train, args.presets = min(args.n, 3000), min(args.train, 1000), []
    args.dir.mkdir(parents=True, exist_ok=True)
    results = json.loads(args.out.read_text()) if args.out.is_file() and not args.smoke else {}
    results["cpu_count"] = os.cpu_count()  # the parts run now replace theirs; the others stay
    if args.presets:
        results["fashion"] = fashion(args.dir, args.presets)
    if args.n:
        results["big"] = big(args.dir, args.n, args.train)
        print("big", json.dumps(results["big"]), flush=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
