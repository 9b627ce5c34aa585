"""The ``conv-image`` preset on the images users bring: 3×32×32, 3×64×64 and 3×128×128, on photo
patches (``photos.py``: scikit-learn's and scikit-image's shipped photos; held-out patches from
halves of the photos no training patch is cut from) and on Fashion-MNIST upscaled to three equal
channels.

Each cell trains in a process of its own (so its peak RSS is its own) for a budget of minutes:
a timed probe of 20 steps sets the epochs (at least one), the one-cycle schedule fitted to
them. Measured: training images/s (the epochs' images over their time, validation included),
embedding images/s (``run.encode`` of the held-out split, batches of 256), peak RSS, and on the
held-out images the MSE and PSNR (``analysis.metrics.reconstruction_metrics``), for photos also
the PSNR on 1,000 patches of two photos that no split draws from, and each epoch's validation
loss (the history, to see whether a longer budget still gains). The 64-pixel
photo cell writes its reconstructions figure to benchmarks/results/image_presets_64.png (not
committed).

    python benchmarks/image_presets.py                       # 2 minutes a cell, 6 cells
    python benchmarks/image_presets.py --sizes 64 --content photos --minutes 10
    python benchmarks/image_presets.py --smoke --out /tmp/i.json   # tiny, seconds

Writes benchmarks/results/image_presets.json (merged by cell) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTENTS = ("photos", "fashion")


def dataset(content: str, size: int, train: int, valid: int):
    sys.path.insert(0, str(HERE))
    from photos import fashion_upscaled, photo_patches

    if content == "photos":
        return photo_patches(size, train, valid)
    return fashion_upscaled(size, train, valid)


def probe_images_per_second(model_config, training, shape, steps: int = 20) -> float:
    """Training images/s of a fresh model, over ``steps`` steps after 3 of warm-up."""
    import torch

    from autoencode.models.autoencoder import build_model
    from autoencode.training.device import auto_threads

    model = build_model(model_config)
    model.to(memory_format=model.memory_format)
    torch.set_num_threads(auto_threads(model, training.batch_size))
    optimizer = training.make_optimizer(model.parameters())
    x = torch.rand(training.batch_size, *shape).contiguous(memory_format=model.memory_format)
    for i in range(steps + 3):
        if i == 3:
            start = time.perf_counter()
        out = model(x)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
    return steps * training.batch_size / (time.perf_counter() - start)


def cell(
    content: str, size: int, minutes: float, train: int, valid: int, figure: str | None
) -> dict:
    """One cell, in this process: the data, the timed probe, training, the measurements."""
    import autoencode as ae
    from autoencode.analysis.metrics import reconstruction_metrics
    from autoencode.commands.train import resolve

    t0 = time.perf_counter()
    data = dataset(content, size, train, valid)
    data_s = time.perf_counter() - t0
    model_config, training = resolve("conv-image", None, None, {}, data.image_shape)
    probe = probe_images_per_second(model_config, training, data.image_shape)
    epochs = max(1, int(minutes * 60 * probe / len(data.train)))
    with tempfile.TemporaryDirectory() as out:
        run = ae.train("conv-image", data, out, epochs=epochs, progress=False, overwrite=True)
        seconds = sum(r["seconds"] for r in run.history)
        t = time.perf_counter()
        run.encode(data.valid.images, batch_size=256)
        embed_s = time.perf_counter() - t
        reconstructions = run.reconstruct(data.valid.images, batch_size=256)
        quality = reconstruction_metrics(data.valid.images, reconstructions)
        unseen = None
        if content == "photos":
            from photos import unseen_patches

            images = unseen_patches(size, valid)
            unseen = reconstruction_metrics(images, run.reconstruct(images, batch_size=256))["psnr"]
        if figure:
            ae.save_reconstructions(run, data, images=10, out=figure)
    return {"content": content, "size": size, "budget_minutes": minutes, "train_images": len(data.train),
            "held_out_images": len(data.valid), "epochs": epochs, "train_s": seconds,
            "params": sum(p.numel() for p in run.model.parameters()),
            "filters": list(run.config.model.encoder.filters), "codings": run.config.model.encoder.codings,
            "threads": run.config.runtime["threads"], "probe_images_per_s": probe,
            "train_images_per_s": epochs * len(data.train) / seconds,
            "embed_images_per_s": len(data.valid) / embed_s,
            "held_out_mse": quality["mse"], "held_out_psnr": quality["psnr"], "unseen_psnr": unseen,
            "val_loss": [r["val_loss"] for r in run.history], "data_s": data_s,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def unseen(cell: dict) -> str:
    """The unseen photos' PSNR of a cell, or a dash (Fashion-MNIST, or a cell measured before)."""
    return f"{cell['unseen_psnr']:.1f} dB" if cell.get("unseen_psnr") is not None else "—"


def table(cells: list[dict]) -> str:
    rows = ["| images | px | stages (filters) | params | budget: epochs (minutes) | train img/s | "
            "embed img/s | peak RSS | held-out MSE | PSNR | PSNR, unseen photos |", "|" + "---|" * 11]  # fmt: skip
    for c in sorted(cells, key=lambda c: (c["content"], c["size"], c["budget_minutes"])):
        rows.append(f"| {c['content']} | {c['size']} | {'/'.join(map(str, c['filters']))} | "
                    f"{c['params'] / 1e6:.1f} M | {c['budget_minutes']:g} min: {c['epochs']} "
                    f"({c['train_s'] / 60:.1f}) | "
                    f"{c['train_images_per_s']:,.0f} | {c['embed_images_per_s']:,.0f} | "
                    f"{c['peak_rss_mb']:,.0f} MB | {c['held_out_mse']:.4f} | "
                    f"{c['held_out_psnr']:.1f} dB | {unseen(c)} |")  # fmt: skip
    return "\n".join(rows)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, 64, 128])
    parser.add_argument("--content", nargs="+", choices=CONTENTS, default=list(CONTENTS))
    parser.add_argument("--minutes", type=float, default=2.0, help="training budget of a cell")
    parser.add_argument("--train", type=int, default=20_000, help="training images of a cell")
    parser.add_argument("--valid", type=int, default=1_000, help="held-out images of a cell")
    parser.add_argument("--smoke", action="store_true", help="tiny: 64 images, a few seconds")
    parser.add_argument("--cell", nargs=2, metavar=("CONTENT", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--figure", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "image_presets.json")
    args = parser.parse_args(argv)
    if args.smoke:
        args.train, args.valid, args.minutes = 64, 16, 0.01
    if args.cell:  # one cell, run by the loop below in a process of its own
        result = cell(args.cell[0], int(args.cell[1]), args.minutes, args.train, args.valid,
                      args.figure)  # fmt: skip
        print("RESULT " + json.dumps(result))
        return result
    saved = json.loads(args.out.read_text()) if args.out.is_file() else {"cells": []}
    for content in args.content:
        for size in args.sizes:
            figure = (
                HERE / "results" / "image_presets_64.png"
                if (content, size) == ("photos", 64)
                else None
            )
            command = [sys.executable, __file__, "--cell", content, str(size), "--minutes",
                       str(args.minutes), "--train", str(args.train), "--valid", str(args.valid)]  # fmt: skip
            if figure and not args.smoke:
                command += ["--figure", str(figure)]
            proc = subprocess.run(command, capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not lines:
                sys.exit(
                    f"cell {content} {size} failed ({proc.returncode}):\n{proc.stderr[-2000:]}"
                )
            result = json.loads(lines[-1][len("RESULT ") :])
            key = (content, size, args.minutes)
            saved["cells"] = [c for c in saved["cells"]
                              if (c["content"], c["size"], c["budget_minutes"]) != key] + [result]  # fmt: skip
            print(f"{content} {size}px: {result['epochs']} epochs, {result['train_images_per_s']:,.0f} "
                  f"img/s, PSNR {result['held_out_psnr']:.2f} dB", flush=True)  # fmt: skip
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(saved, indent=2) + "\n")
    print(table(saved["cells"]))
    return saved


if __name__ == "__main__":
    main()
