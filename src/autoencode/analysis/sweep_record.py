"""A label sweep's record: ``RUN/pretrain/results.csv`` (a row per cell), ``sweep.json`` (what
the cells depend on, and their seconds) and the summary of the rows (means, Student's t
intervals, differences paired by seed). The cells themselves are measured in
``analysis.pretraining``."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch

from autoencode.data.types import Dataset
from autoencode.errors import AutoencodeError
from autoencode.io import read_json, write_csv, write_json
from autoencode.runfolder import RunFolder

MODES = ("frozen", "finetune", "scratch", "pca")  # in the order results.csv lists them

SWEEP_FORMAT = "autoencode-sweep/1"  # a change in how a cell is measured gets a new one
RESULT_COLUMNS = ("labels", "mode", "seed", "draw", "test_accuracy", "valid_accuracy")


def read_results(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        held = [{**row, "labels": int(row["labels"]), "seed": int(row["seed"]),
                 "test_accuracy": float(row["test_accuracy"]),
                 "valid_accuracy": float(row["valid_accuracy"])} for row in rows]  # fmt: skip
        if any(row["mode"] not in MODES for row in held):
            raise ValueError("unknown mode")
        return held
    except (KeyError, TypeError, ValueError, csv.Error):  # UnicodeDecodeError is a ValueError
        raise AutoencodeError(f"{path}: not a results file of a label sweep "
                              "(expected the columns " + ", ".join(RESULT_COLUMNS) + ")") from None  # fmt: skip


def _sweep_identity(run, settings, data: Dataset) -> dict:
    """What a sweep's cells depend on: its settings, the run's weights and the data."""
    digest = hashlib.sha256()
    for split in (data.train, data.valid, data.test):
        digest.update(np.ascontiguousarray(split.images).tobytes())
        digest.update(np.ascontiguousarray(split.labels).tobytes())
    identity = {"format": SWEEP_FORMAT, "settings": dataclasses.asdict(settings),
                "data": data.name, "data_sha256": digest.hexdigest(),
                "weights_sha256": run.folder.weights_sha256(),
                "torch": torch.__version__}  # fmt: skip
    return json.loads(json.dumps(identity))  # as sweep.json holds it: tuples are lists there


def open_sweep(run, settings, data: Dataset, overwrite: bool) -> list[dict]:
    """The rows already measured in ``RUN/pretrain`` (none if new or ``overwrite``); a sweep of
    other settings, weights or data there is an error."""
    folder = run.folder
    identity, sweep_file = _sweep_identity(run, settings, data), folder.pretrain_file("sweep.json")
    if overwrite or not sweep_file.is_file():
        sweep_file.parent.mkdir(parents=True, exist_ok=True)
        for old in ("results.csv", "summary.json"):  # before the new identity: never mixed
            folder.pretrain_file(old).unlink(missing_ok=True)
        write_json(sweep_file, {**identity, "seconds": {}})
        return []
    held = read_json(sweep_file)
    if {k: held.get(k) for k in identity} != identity:
        differ = ", ".join(
            dict.fromkeys(k.removesuffix("_sha256") for k in identity if held.get(k) != identity[k])
        )
        raise AutoencodeError(f"{sweep_file.parent} holds a sweep with other {differ}; "
                              "--overwrite starts it again")  # fmt: skip
    return read_results(folder.pretrain_file("results.csv"))


def write_results(folder: RunFolder, rows: list[dict]) -> None:
    order = {mode: i for i, mode in enumerate(MODES)}
    rows.sort(key=lambda r: (r["labels"], r["seed"], order[r["mode"]]))
    write_csv(folder.pretrain_file("results.csv"), rows)


def note_seconds(folder: RunFolder, cell: str, seconds: float) -> None:
    sweep = read_json(folder.pretrain_file("sweep.json"))
    sweep.setdefault("seconds", {})[cell] = round(seconds, 2)
    write_json(folder.pretrain_file("sweep.json"), sweep)


# -- the summary ---------------------------------------------------------------------------


def interval(values: list[float]) -> dict:
    """Mean and 95% confidence interval (Student's t) of ``values``; no interval for one value."""
    n, mean = len(values), float(np.mean(values))
    if n < 2:
        return {"mean": mean, "low": None, "high": None, "n": n}
    from scipy import stats

    half = float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def summarise(rows: list[dict]) -> dict:
    """Per label count: each mode's test accuracy over the seeds, and each other mode minus
    ``scratch``, paired by seed (the same labelled images)."""
    cells: dict[int, dict[str, dict[int, float]]] = {}
    for row in rows:
        by_mode = cells.setdefault(row["labels"], {}).setdefault(row["mode"], {})
        by_mode[row["seed"]] = row["test_accuracy"]
    summary = {}
    for n in sorted(cells):
        by_mode = cells[n]
        scratch = by_mode.get("scratch", {})
        differences = {}
        for mode in (m for m in MODES if m != "scratch" and m in by_mode):
            paired = sorted(set(by_mode[mode]) & set(scratch))
            if paired:
                differences[mode] = interval([by_mode[mode][s] - scratch[s] for s in paired])
        summary[str(n)] = {
            "modes": {m: interval(list(by_mode[m].values())) for m in MODES if m in by_mode},
            "minus_scratch": differences,
        }
    return summary
