"""``autoencode zoo``: every preset (or those named) trained on one dataset, in one table and one
``compare`` page: which model for these images?

Each preset trains into ``OUT/<preset>`` and is scored on the test split (the validation split
where the data has none): reconstruction BCE / MSE / PSNR, reconstructions of noisy inputs
against the clean images, k-NN and linear-probe accuracy of the codings where there are labels,
and for generative presets the Fréchet distance / precision / recall of samples.

With a time budget (``minutes``) the whole call keeps to it: each preset gets an equal share of
what is left when its turn comes, less the time the previous preset's scoring took (kept back
for its own). Its epochs are fitted to that share from a short timed probe, so that a
learning-rate schedule ends where training does, and a callback stops it after the epoch that
would run past the share. Without a budget each preset trains its own epochs (or ``epochs``).
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from autoencode.data.datasets import load_dataset
from autoencode.errors import ConfigError
from autoencode.io import write_json, write_text
from autoencode.presets import PRESETS, get_preset

PROBE_STEPS = 20  # batches the probe times (and at least PROBE_IMAGES images)
PROBE_IMAGES = 2000
VALID_COST = 0.3  # a validation image's time against a training image's (forward, large batches)
PAGE_S = 10.0  # kept back from a budget for the compare page


class Deadline:
    """A trainer callback: stop after the epoch past which the next would end after ``at``
    (``time.perf_counter()`` seconds)."""

    def __init__(self, at: float):
        self.at = at

    def on_epoch_end(self, trainer, row: dict) -> None:
        if time.perf_counter() + row["seconds"] > self.at:
            trainer.stop = True


def zoo(data=None, out: str | Path | None = None, *, presets=None, minutes: float | None = None,
        epochs: int | None = None, seed: int = 42, samples: int = 5000, noise: float = 0.2,
        device: str = "auto", data_dir=None, overwrite: bool = False,
        progress: bool = False) -> dict:  # fmt: skip
    """Train and score ``presets`` (default: all) on ``data`` into ``out`` (default
    ``runs/zoo``), within ``minutes`` in all if given; writes ``zoo.json`` (what this returns:
    the rows, the budget, the wall time), ``zoo.md`` (the table) and ``compare.html``."""
    from autoencode.commands.compare import compare

    started = time.perf_counter()
    names = _checked(presets, minutes, epochs)
    data = load_dataset(data if data is not None else "fashion-mnist", data_dir)
    split = "test" if data.test is not None else "valid"
    out = Path(out) if out is not None else Path("runs") / "zoo"
    budget = None if minutes is None else minutes * 60
    _classifier_first(data, split, names, samples, device)  # inside the budget, once
    rows, scoring = [], None
    for i, name in enumerate(names):
        fixed, callbacks, share = {"seed": seed}, [], None
        if epochs is not None:
            fixed["epochs"] = epochs
        if budget is not None:
            share = (budget - PAGE_S - (time.perf_counter() - started)) / (len(names) - i)
            fixed["epochs"], callbacks = _within(name, data, share, scoring, device)
        rows.append(_measure(name, data, out / name, split, fixed, callbacks, share,
                             samples=samples, noise=noise, device=device, overwrite=overwrite,
                             progress=progress))  # fmt: skip
        scoring = rows[-1]["scoring_s"]
    result = {"data": data.ref.to_dict(), "split": split, "presets": names, "seed": seed,
              "budget_s": budget, "rows": rows}  # fmt: skip
    if len(names) > 1:
        page = compare([out / n for n in names], out / "compare.html", data=data)
        result["compare"] = str(page.path)
    write_text(out / "zoo.md", zoo_table(rows, split) + "\n")
    result["wall_s"] = time.perf_counter() - started
    write_json(out / "zoo.json", result)
    return result


def _checked(presets, minutes: float | None, epochs: int | None) -> list[str]:
    """The presets' names, every argument checked before anything trains."""
    names = list(presets) if presets else list(PRESETS)
    for name in names:
        get_preset(name)  # an unknown name is one line
    if minutes is not None and (not 0 < minutes < float("inf") or epochs is not None):
        raise ConfigError("{parameter}: a positive number of minutes, without --epochs (the "
                          "budget fits each preset's epochs)", parameter="minutes")  # fmt: skip
    return names


def _measure(name: str, data, folder: Path, split: str, fixed: dict, callbacks: list,
             share: float | None, **options) -> dict:  # fmt: skip
    """Train one preset and score it: its row of the table."""
    from autoencode.analysis.embedding import embed
    from autoencode.commands.evaluate import evaluate
    from autoencode.commands.train import train

    samples, noise = options.pop("samples"), options.pop("noise")
    start = time.perf_counter()
    run = train(name, data, folder, callbacks=callbacks, **options, **fixed)
    trained = time.perf_counter()
    card = evaluate(run, data, baselines=False, noise=noise, samples=samples, split=split,
                    nll_samples=0)  # the likelihood: benchmarks/generation.py, or evaluate  # fmt: skip
    codings = embed(run, data.split(split).images)
    last, scores = run.history[-1], card.get("codings", {})
    return {
        "preset": name,
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "epochs": len(run.history),
        "s_per_epoch": statistics.median(r["seconds"] for r in run.history),
        "train_s": trained - start, "scoring_s": time.perf_counter() - trained, "share_s": share,
        "val": {k.removeprefix("val_"): v for k, v in last.items() if k.startswith("val_")},
        "test_bce": card["bce"], "test_mse": card["mse"], "test_psnr": card["psnr"],
        "knn5": scores.get("knn5"), "linear_probe": scores.get("linear_probe"),
        "coding_dims": int(np.prod(codings.shape[1:])),
        "noisy_mse": card["noisy_inputs"]["mse"] if "noisy_inputs" in card else None,
        "mean_activation": float(np.mean(codings)),
        "samples": card.get("samples"),
        "run": str(run.path),
    }  # fmt: skip


def _within(name: str, data, share: float, scoring: float | None, device: str):
    """The epochs of ``name`` that fit its share of the budget, less its probe and the time
    its scoring will take (the previous preset's, or 15% of the share for the first), and the
    callback that stops it there."""
    start = time.perf_counter()
    epoch = _epoch_seconds(name, data, device)
    left = share - (scoring if scoring is not None else 0.15 * share)
    left = max(left - (time.perf_counter() - start), 0.0)
    return max(1, int(left / epoch)), [Deadline(time.perf_counter() + left)]


def _classifier_first(data, split: str, names: list[str], samples: int, device: str) -> None:
    """The sample scores' feature classifier, trained (or found cached) before the first preset."""
    labelled = data.train.labels is not None and data.split(split).labels is not None
    if samples and labelled and any(get_preset(n).model.generative for n in names):
        from autoencode.analysis.sample_quality import feature_classifier

        feature_classifier(dataclasses.replace(data, test=data.split(split)), device=device)


def _epoch_seconds(name: str, data, device: str) -> float:
    """About how long an epoch of ``name`` takes: one epoch of a slice of the training split,
    timed, scaled to the whole split and its validation."""
    from autoencode.commands.train import train

    batch = get_preset(name).training.batch_size
    n = min(len(data.train), max(PROBE_STEPS * batch, PROBE_IMAGES))
    with tempfile.TemporaryDirectory() as tmp:
        probe = train(name, data.subset(n, batch), Path(tmp) / "probe", epochs=1,
                      progress=False, device=device)  # fmt: skip
    per_image = probe.history[0]["seconds"] / n
    return per_image * (len(data.train) + VALID_COST * (len(data.valid) if data.valid else 0))


def zoo_table(rows: list[dict], split: str = "test") -> str:
    """The rows as a Markdown table."""
    head = (f"| preset | parameters | s/epoch | epochs | val loss | {split} BCE | {split} MSE "
            "| PSNR dB | noisy-input MSE | k-NN | linear probe | samples: FD / precision / recall |")  # fmt: skip
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        terms = ", ".join(f"{k} {v:.4f}" for k, v in r["val"].items())
        cells = [f"`{r['preset']}`", f"{r['parameters']:,}", f"{r['s_per_epoch']:.2f}",
                 str(r["epochs"]), terms, f"{r['test_bce']:.4f}", f"{r['test_mse']:.4f}",
                 f"{r['test_psnr']:.2f}", _number(r["noisy_mse"]), _number(r["knn5"]),
                 _number(r["linear_probe"]), sample_cell(r["samples"])]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def sample_cell(scores: dict | None) -> str:
    """Fréchet distance / precision / recall, or nothing for a model that does not generate."""
    if not scores:
        return ""
    return f"{scores['frechet_distance']:.2f} / {scores['precision']:.3f} / {scores['recall']:.3f}"
