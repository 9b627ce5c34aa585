"""Generation: every generative preset × sampler, scored by the Fréchet distance and precision /
recall of 5,000 samples against the test set (the features of the cached Fashion-MNIST
classifier, as the zoo's), over 3 seeds with 95% intervals, the importance-sampled NLL of the
variational runs beside them, and the floor (the test set against the training set).

Budget: ``--minutes`` (default 45) for the whole script on this machine's cores. Each (seed,
preset) gets an equal share of what is left when its turn comes, less the time the previous
one's scoring took; its epochs are fitted to that share as the zoo fits them (a timed probe, and
a deadline after the epoch that would overrun), so each preset's own schedule ends where its
training does. The samplers are fitted after training (``fit-sampler``); a mixture's number of
components is chosen on the validation likelihood for the first seed and kept for the others.

    python benchmarks/generation.py                  # the README's table, about 45 minutes
    python benchmarks/generation.py --smoke --out /tmp/g.json   # tiny synthetic data, a minute

Writes benchmarks/results/generation.json (every cell, every seed, the settings and the wall
time), prints the table as Markdown, and draws a grid of 12 samples of each of the best rows and
of the seed VAE's prior (benchmarks/results/generation_samples.png; a figure, not committed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent

# (preset, the samplers scored): "prior" is the objective's own; the rest are fitted on codings
PLAN = [
    ("vae", ["prior", "gmm"]),
    ("conv-vae", ["prior", "gmm"]),
    ("conv-iwae", ["prior"]),
    ("conv-wae", ["prior", "gmm"]),
    ("conv-rae", ["gmm", "flow"]),
    ("rae", ["gmm"]),
    ("vq", ["codes"]),
    ("stacked", ["gmm"]),
]
SMOKE_PLAN = [("vae", ["prior", "gmm", "flow"]), ("vq", ["codes"]), ("stacked", ["gmm"])]
NLL_SAMPLES = 100  # importance samples for the NLL column (evaluate --nll-samples K) ...
NLL_IMAGES = 2000  # ... on this many test images: the conv decoders make k × n decodes costly


def smoke_data():
    """Tiny labelled synthetic data with a test split (the feature classifier needs one)."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from conftest import synthetic_images  # noqa: I001 (the tests' folder, put on the path here)

    from autoencode.data.types import Dataset, Split

    images, labels = synthetic_images(240)
    return Dataset("smoke", Split(images[80:], labels[80:]), Split(images[:40], labels[:40]),
                   Split(images[40:80], labels[40:80]))  # fmt: skip


def run_cell(preset: str, samplers: list[str], data, folder: Path, seed: int, share: float | None,
             scoring: float | None, samples: int, components: dict, smoke: bool) -> dict:  # fmt: skip
    """Train one preset with one seed, fit its samplers, score each: one row per sampler."""
    import autoencode as ae
    from autoencode.analysis.sample_quality import sample_scores
    from autoencode.commands.zoo import _within

    start = time.perf_counter()
    fixed, callbacks = ({"epochs": 1}, []) if smoke else ({}, [])
    if share is not None:
        fixed["epochs"], callbacks = _within(preset, data, share, scoring, "auto")
    run = ae.train(preset, data, folder, seed=seed, callbacks=callbacks, progress=False,
                   overwrite=True, **fixed)  # fmt: skip
    trained = time.perf_counter()
    rows = []
    nll = _nll(run, data, smoke)
    for sampler in samplers:
        fit = None
        if sampler != "prior":
            fit = ae.fit_sampler(run, sampler, data=data, seed=seed,
                                 components=components.get((preset, sampler)))  # fmt: skip
            if sampler == "gmm":
                components[(preset, sampler)] = fit["components"]
        scores = sample_scores(run, data, samples, seed=seed, sampler=sampler)
        rows.append({"preset": preset, "sampler": sampler, "seed": seed,
                     "epochs": len(run.history), "fit": fit, "nll": nll if sampler == "prior" else None,
                     "frechet_distance": scores["frechet_distance"],
                     "precision": scores["precision"], "recall": scores["recall"],
                     "floor": scores["floor"], "classifier": scores["classifier"]})  # fmt: skip
    took = {"train_s": trained - start, "scoring_s": time.perf_counter() - trained}
    return {"rows": [{**r, **took} for r in rows], "run": run, **took}


def _nll(run, data, smoke: bool) -> dict | None:
    """The importance-sampled NLL of the first ``NLL_IMAGES`` test images (variational runs)."""
    from autoencode.commands.evaluate import has_likelihood, likelihood

    if not has_likelihood(run):
        return None
    return likelihood(run, data.test.images[:NLL_IMAGES], 4 if smoke else NLL_SAMPLES)


def summarise(rows: list[dict]) -> list[dict]:
    """Per (preset, sampler): each score's median, mean and 95% interval over the seeds."""
    from autoencode.analysis.sweep_record import interval

    cells: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        cells.setdefault((row["preset"], row["sampler"]), []).append(row)
    table = []
    for (preset, sampler), group in cells.items():
        cell = {"preset": preset, "sampler": sampler, "seeds": len(group),
                "epochs": statistics.median(r["epochs"] for r in group)}  # fmt: skip
        for key in ("frechet_distance", "precision", "recall"):
            values = [r[key] for r in group]
            cell[key] = {"median": statistics.median(values), **interval(values)}
        nlls = [r["nll"]["nll"] for r in group if r.get("nll")]
        cell["nll"] = {"median": statistics.median(nlls), **interval(nlls)} if nlls else None
        table.append(cell)
    return table


def markdown(table: list[dict], floor: dict) -> str:
    def score(c: dict, digits: int) -> str:
        if c["low"] is None:
            return f"{c['median']:.{digits}f}"
        return f"{c['median']:.{digits}f} ({c['low']:.{digits}f}–{c['high']:.{digits}f})"

    lines = ["| preset | sampler | epochs | FD ↓ | precision ↑ | recall ↑ | NLL nats ↓ |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in sorted(table, key=lambda c: c["frechet_distance"]["median"]):
        nll = score(c["nll"], 1) if c["nll"] else ""
        lines.append(f"| `{c['preset']}` | {c['sampler']} | {c['epochs']:g} | "
                     f"{score(c['frechet_distance'], 1)} | {score(c['precision'], 3)} | "
                     f"{score(c['recall'], 3)} | {nll} |")  # fmt: skip
    lines.append(f"| floor: test against train | | | {floor['frechet_distance']:.2f} | "
                 f"{floor['precision']:.3f} | {floor['recall']:.3f} | |")  # fmt: skip
    return "\n".join(lines)


def draw_grid(runs: dict, table: list[dict], path: Path, best: int = 3) -> Path:
    """12 samples of each of the ``best`` rows (by median FD) and of the seed VAE's prior, a row
    of the figure each, from each preset's first seed."""
    import matplotlib.pyplot as plt

    from autoencode.figures import save_figure

    ranked = sorted(table, key=lambda c: c["frechet_distance"]["median"])[:best]
    shown = [(c["preset"], c["sampler"]) for c in ranked]
    if ("vae", "prior") not in shown and "vae" in runs:
        shown.append(("vae", "prior"))
    figure, axes = plt.subplots(len(shown), 12, figsize=(12, 1.15 * len(shown)), squeeze=False)
    for row, (preset, sampler) in zip(axes, shown, strict=True):
        images = runs[preset].sample(12, seed=0, sampler=sampler)
        for ax, image in zip(row, images, strict=True):
            ax.imshow(image, cmap="binary", vmin=0, vmax=1)
            ax.axis("off")
        row[0].set_title(f"{preset} · {sampler}", loc="left", fontsize=9)
    return save_figure(figure, path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=45.0, help="the whole script's budget")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--presets", nargs="+", help="a subset of the plan's presets")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny synthetic data, 1 epoch, 64 samples, 2 seeds, no budget")  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "results" / "generation.json")
    parser.add_argument("--figure", type=Path, default=None,
                        help="the sample grid (default: beside --out, _samples.png)")  # fmt: skip
    args = parser.parse_args(argv)
    import autoencode as ae

    started = time.perf_counter()
    plan = [(p, s) for p, s in (SMOKE_PLAN if args.smoke else PLAN)
            if not args.presets or p in args.presets]  # fmt: skip
    if args.smoke:
        data, seeds, samples, budget = smoke_data(), range(2), 64, None
    else:
        data, seeds, samples = ae.load_dataset("fashion-mnist"), range(args.seeds), args.samples
        budget = args.minutes * 60
    from autoencode.analysis.sample_quality import feature_classifier

    feature_classifier(data)  # trained (or found cached) once, inside the budget
    rows, runs, components, scoring = [], {}, {}, None
    cells = [(seed, preset, samplers) for seed in seeds for preset, samplers in plan]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (seed, preset, samplers) in enumerate(cells):
            share = None
            if budget is not None:
                share = (budget - 30 - (time.perf_counter() - started)) / (len(cells) - i)
            cell = run_cell(preset, samplers, data, Path(tmp) / f"{preset}-{seed}", seed, share,
                            scoring, samples, components, args.smoke)  # fmt: skip
            rows += cell["rows"]
            scoring = cell["scoring_s"]
            runs.setdefault(preset, cell["run"])
            print(f"{preset} seed {seed}: {cell['train_s']:.0f} s training, "
                  f"{cell['scoring_s']:.0f} s scoring", flush=True)  # fmt: skip
        table = summarise(rows)
        figure = args.figure or args.out.with_name(args.out.stem + "_samples.png")
        draw_grid(runs, table, figure)
    floor = rows[0]["floor"]
    report = {"budget_s": budget, "seeds": list(seeds), "samples": samples,
              "nll_samples": NLL_SAMPLES, "nll_images": NLL_IMAGES, "plan": plan, "table": table, "rows": rows,
              "floor": floor, "classifier": rows[0]["classifier"], "figure": str(figure),
              "wall_s": time.perf_counter() - started}  # fmt: skip
    for row in report["rows"]:
        row.pop("floor"), row.pop("classifier")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(markdown(table, floor))
    print(f"wall time {report['wall_s']:.0f} s of a {budget or 0:.0f} s budget; {figure}")
    return report


if __name__ == "__main__":
    main()
