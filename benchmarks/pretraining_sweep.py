"""When does unsupervised pretraining pay? ``autoencode pretrain``'s label sweep on a run, timed.

Runs the sweep (label counts × seeds × modes, see ``autoencode.analysis.pretraining``) on a copy
of RUN, so that the run's own ``pretrain/`` is left alone, and records its summary and wall time
under a name in benchmarks/results/pretraining_sweep.json. A rerun with the same name continues
the sweep where it stopped (the copy is kept in runs/bench-pretrain/NAME).

    python benchmarks/pretraining_sweep.py runs/demo/stacked --name stacked
    python benchmarks/pretraining_sweep.py runs/demo/conv --name conv
    python benchmarks/pretraining_sweep.py runs/demo/stacked --name stacked-lr3e-3 --lr 3e-3
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import autoencode as ae
from autoencode.analysis.pretraining import LABEL_COUNTS, MODES, SweepSettings

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "pretraining_sweep.json"


def table(summary: dict) -> str:
    """Markdown: mean test accuracy × 100 [95% interval] per label count and mode, and the
    paired differences with scratch in points."""
    modes = list(dict.fromkeys(m for e in summary.values() for m in e["modes"]))
    others = list(dict.fromkeys(m for e in summary.values() for m in e["minus_scratch"]))
    head = ["labels", *modes, *(f"{m} − scratch" for m in others)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n, entry in summary.items():
        cells = [_cell(entry["modes"].get(m)) for m in modes]
        cells += [_cell(entry["minus_scratch"].get(m), signed=True) for m in others]
        lines.append(f"| {int(n):,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(cell: dict | None, signed: bool = False) -> str:
    if cell is None:
        return ""
    sign = "+" if signed else ""
    if cell["low"] is None:
        return f"{100 * cell['mean']:{sign}.1f}"
    return f"{100 * cell['mean']:{sign}.1f} [{100 * cell['low']:{sign}.1f}, {100 * cell['high']:{sign}.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--name", required=True)
    parser.add_argument("--labels", default=",".join(map(str, LABEL_COUNTS)))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--lr", type=float, default=SweepSettings.lr)
    parser.add_argument("--max-images", type=int, default=SweepSettings.max_images)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    copy = Path("runs/bench-pretrain") / args.name
    weights = "model.safetensors"
    if copy.is_dir() and (copy / weights).read_bytes() != (Path(args.run) / weights).read_bytes():
        shutil.rmtree(copy)  # RUN was trained again since: its sweep starts again
    if not copy.is_dir():
        shutil.copytree(args.run, copy, ignore=shutil.ignore_patterns("pretrain"))
    settings = SweepSettings(lr=args.lr, max_images=args.max_images)
    start = time.perf_counter()
    summary = ae.pretrain(copy, labels=[int(n) for n in args.labels.split(",")],
                          seeds=args.seeds, modes=args.modes.split(","), settings=settings,
                          progress=True, record=False)  # fmt: skip
    wall = time.perf_counter() - start
    seconds = json.loads((copy / "pretrain" / "sweep.json").read_text())["seconds"]
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results[args.name] = {
        "run": str(args.run), "settings": settings.__dict__, "seeds": args.seeds,
        "wall_s_last_call": round(wall), "cells_s_total": round(sum(seconds.values())),
        "summary": summary,
    }  # fmt: skip
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{args.name}: {sum(seconds.values()) / 60:.1f} min over {len(seconds)} cells")
    print(table(summary))


if __name__ == "__main__":
    main()
