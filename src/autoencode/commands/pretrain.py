"""``autoencode pretrain``: the label sweep of a run (``analysis.pretraining`` says what it measures)."""

from __future__ import annotations

import hashlib
import time

import numpy as np

from autoencode.analysis.pretraining import (
    LABEL_COUNTS,
    SweepSettings,
    balanced_draw,
    cells,
    check_modes,
    check_sweep_data,
    network_cell,
    pca_cell,
    pca_inputs,
)
from autoencode.analysis.sweep_record import (
    MODES,
    note_seconds,
    open_sweep,
    read_results,
    summarise,
    write_results,
)
from autoencode.data.types import Dataset, Split
from autoencode.errors import AutoencodeError, ConfigError
from autoencode.io import write_json
from autoencode.run import load_run
from autoencode.runfolder import RunFolder
from autoencode.training.distributed import world_size_from_env
from autoencode.training.trainer import stream_seed


def pretrain(run,  # long: a third of it is the signature and the docstring
             data: Dataset | str | None = None, labels=LABEL_COUNTS, seeds: int = 5,
             modes=MODES, *, seed: int = 42, settings: SweepSettings | None = None,
             device: str = "auto", progress: bool = False, data_dir=None,
             overwrite: bool = False, record: bool = True) -> dict:  # fmt: skip
    """Test accuracy for each label count × seed × mode (see the module's docstring) and its
    summary: writes ``RUN/pretrain/results.csv``, ``summary.json`` and ``sweep.json`` and
    ``RUN/figures/pretraining.png``; the means go to metrics.json (section ``pretraining``)
    unless ``record`` is False. Seeds are ``seed``, ``seed + 1``, …; cells already in
    results.csv (same settings) are kept. Returns the summary."""
    if world_size_from_env() > 1:  # early stopping and the files are one process's
        raise ConfigError("the label sweep runs in one process, not under torchrun")
    run = load_run(run)
    data = run.load_dataset(data_dir, data=data)
    counts = sorted({int(n) for n in ([labels] if isinstance(labels, int) else labels)})
    modes, settings = check_modes(modes), settings or SweepSettings()
    if not counts:
        raise AutoencodeError("{parameter}: no label counts given", parameter="labels")
    n_classes = check_sweep_data(data, counts)
    if seeds < 1:
        raise AutoencodeError(f"{{parameter}} must be at least 1, got {seeds}", parameter="seeds")
    folder = run.folder
    rows = open_sweep(run, settings, data, overwrite)
    done = {(r["labels"], r["seed"], r["mode"]) for r in rows}
    wanted = cells(counts, range(seed, seed + seeds), modes)
    todo = [c for c in wanted if c not in done]
    valid = Split(
        data.valid.images[: settings.valid_size], data.valid.labels[: settings.valid_size]
    )
    pca = None
    if any(c[2] == "pca" for c in todo):
        pca = pca_inputs(data, valid, max(settings.pca_components))
    total = len(cells(counts, range(seeds), modes))
    for i, (n, s, mode) in enumerate(todo, total - len(todo) + 1):
        start = time.perf_counter()
        rows.append(_measure(run, data, valid, pca, (n, s, mode), n_classes, settings, device))
        write_results(folder, rows)
        seconds = time.perf_counter() - start
        note_seconds(folder, f"{n}/{s}/{mode}", seconds)
        if progress:
            print(f"[{i}/{total}] {n} labels, seed {s}, {mode}: test accuracy "
                  f"{rows[-1]['test_accuracy']:.4f} ({seconds:.1f} s)", flush=True)  # fmt: skip
    asked = set(wanted)  # the summary is of these cells, read back as results.csv holds them
    held = [r for r in read_results(folder.pretrain_file("results.csv"))
            if (r["labels"], r["seed"], r["mode"]) in asked]  # fmt: skip
    return _finish(run, folder, held, record)


def _measure(run, data: Dataset, valid: Split, pca, cell: tuple[int, int, str], n_classes: int,
             settings: SweepSettings, device: str) -> dict:  # fmt: skip
    """One cell's row: its draw (the same for every mode of its count and seed) and result."""
    n, s, mode = cell
    cell_seed = stream_seed(s, f"labels {n}")  # the draw and the initialisation: every mode's
    pick = balanced_draw(data.train.labels, n, cell_seed)
    if mode == "pca":
        result = pca_cell(*pca, pick, settings, cell_seed)
    else:
        few = Split(data.train.images[pick], data.train.labels[pick])
        result = network_cell(run, mode, few, valid, data.test, n_classes, settings, cell_seed,
                              device)  # fmt: skip
    draw = hashlib.sha256(pick.astype(np.int64).tobytes()).hexdigest()[:12]
    return {"labels": n, "mode": mode, "seed": s, "draw": draw, **result}


def _finish(run, folder: RunFolder, rows: list[dict], record: bool) -> dict:
    from autoencode.figures import pretraining_figure, save_figure

    summary = summarise(rows)
    write_json(folder.pretrain_file("summary.json"), summary)
    save_figure(pretraining_figure(summary), run.folder.figure("pretraining"))
    if record:
        for n, entry in summary.items():
            means = {mode: cell["mean"] for mode, cell in entry["modes"].items()}
            run.folder.record("pretraining", means, key=n)
    return summary
