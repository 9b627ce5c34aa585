"""``autoencode compare``: runs side by side, as one self-contained HTML page and a table.

The page shows the settings that differ (those shared folded away), a sortable table of the
numbers every run has, the learning curves of each named loss term (train and validation, one
curve per run), the same validation images reconstructed by every run, samples of the generative
runs, and each run's map with links to its explorer page and report. Nothing is fetched: the
images are inline and the curves are SVG.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autoencode.errors import AutoencodeError
from autoencode.io import write_text
from autoencode.run import Run, load_run
from autoencode.typed import dotted

# matplotlib's tab20, reordered so that the first ten are the strong ones
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
           "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"]  # fmt: skip


@dataclass
class Comparison:
    """What ``compare`` found: each run's name, the settings that differ (a value per run) and
    those shared, and the numbers every run has (a row per run); ``path``, the page."""

    names: list[str]
    differ: dict[str, list]
    shared: dict[str, object]
    rows: list[dict]
    path: Path

    def table(self) -> str:
        """The numbers as a plain-text table."""
        columns = list(self.rows[0])
        cells = [columns] + [[number(row[c]) for c in columns] for row in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
        return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                         for r in cells)  # fmt: skip


def compare(runs, out: str | Path | None = None, *, allow_different_data: bool = False,
            images: int = 8, seed: int = 0, data=None, data_dir=None) -> Comparison:  # fmt: skip
    """Compare run folders (or Runs) in one page (default: ``compare.html`` in the folder that
    holds them all). Runs trained on different data are refused unless ``allow_different_data``;
    each then shows its own validation images. ``data``: the dataset to reconstruct, where the
    runs' own cannot be loaded again (arrays given in Python)."""
    loaded = [load_run(r) for r in runs]
    if len(loaded) < 2:
        raise AutoencodeError("{parameter}: give at least two runs to compare", parameter="runs")
    refs = [json.dumps(r.config.data.to_dict(), sort_keys=True) for r in loaded]
    if len(set(refs)) > 1 and not allow_different_data:
        other = next(r for r, ref in zip(loaded, refs, strict=True) if ref != refs[0])
        raise AutoencodeError(f"{loaded[0].path} and {other.path} were trained on different data "
                              "({parameter} compares them anyway)",
                              parameter="allow_different_data")  # fmt: skip
    names = run_names(loaded)
    settings = [flat_settings(r) for r in loaded]
    keys = sorted({k for s in settings for k in s}, key=lambda k: (k != "preset", k))
    values = {k: [s.get(k, "—") for s in settings] for k in keys}  # —: a setting a run has not
    differ = {k: v for k, v in values.items() if len({json.dumps(x) for x in v}) > 1}
    shared = {k: v[0] for k, v in values.items() if k not in differ}
    numbers = [run_numbers(r) for r in loaded]
    columns = [c for c in numbers[0] if all(c in n for n in numbers)]
    rows = [
        {"run": name, **{c: n[c] for c in columns}} for name, n in zip(names, numbers, strict=True)
    ]
    path = (
        Path(out)
        if out
        else Path(os.path.commonpath([r.path.resolve() for r in loaded])) / "compare.html"
    )
    comparison = Comparison(names, differ, shared, rows, path)
    write_text(path, render(comparison, loaded, images, seed, data, data_dir))
    return comparison


def run_names(runs: list[Run]) -> list[str]:
    """Each run's folder name, with its parent's where two share one."""
    names = [r.path.name for r in runs]
    return [f"{r.path.parent.name}/{n}" if names.count(n) > 1 else n
            for r, n in zip(runs, names, strict=True)]  # fmt: skip


def flat_settings(run: Run) -> dict:
    """The preset, model and training settings as dotted names (``model.encoder.units``)."""
    config = run.config.to_dict()
    return {"preset": config["preset"], **dotted(config["model"], "model"),
            **dotted(config["training"], "training")}  # fmt: skip


def run_numbers(run: Run) -> dict:
    """The numbers a run has: size, time, its last epoch's losses and its evaluation card's
    scores (without the baselines, which are the data's)."""
    numbers = {"parameters": sum(p.numel() for p in run.model.parameters()),
               "epochs": len(run.history)}  # fmt: skip
    if run.history:
        numbers["s/epoch"] = statistics.median(row["seconds"] for row in run.history)
        last = run.history[-1]
        numbers |= {k: v for k, v in last.items() if k.startswith("val_")}
        numbers |= {
            k: v for k, v in last.items() if k not in ("epoch", "seconds") and k[:4] != "val_"
        }
    card = run.folder.read_metrics().get("evaluation", {})
    for key, value in _leaves(card):
        top = key.split(".")[0]
        if top not in ("split", "maps") and not top.startswith(("n_", "pca", "pixels")):
            numbers[f"{card.get('split', 'test')} {key}"] = value
    return numbers


def _leaves(card: dict, prefix: str = ""):
    for key, value in card.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield f"{prefix}{key}", value


def number(value) -> str:
    """A value as a person reads it: integers with separators, floats to 4 significant digits,
    text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return json.dumps(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


# -- the page ------------------------------------------------------------------------------------

STYLE = """body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}h2{margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}
th{background:#f3f3f3;cursor:pointer}td:first-child,th:first-child{text-align:left}.scroll{overflow-x:auto}
.key{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.maps td{text-align:left;vertical-align:top}figure{margin:0}figcaption{font-size:.85rem;color:#555}
img.strip{image-rendering:pixelated;height:48px;display:block}img.map{width:220px;border:1px solid #eee}
.legend span{margin-right:1rem;white-space:nowrap}"""
SORT = """document.querySelectorAll("table.sortable th").forEach((th, i) => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], rows = [...body.rows], up = th.dataset.up !== "1";
  const key = (r) => { const v = r.cells[i].dataset.value; return v === undefined ? r.cells[i].textContent : +v; };
  rows.sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * (up ? 1 : -1));
  th.dataset.up = up ? "1" : "0"; rows.forEach((r) => body.appendChild(r));
}));"""


def render(comparison: Comparison, runs: list[Run], images: int, seed: int, data, data_dir) -> str:
    names, colours = comparison.names, dict(zip(comparison.names, _colours(len(runs)), strict=True))
    legend = "".join(f'<span><i class="key" style="background:{colours[n]}"></i>{html.escape(n)}</span>'
                     for n in names)  # fmt: skip
    parts = [f"<h1>{len(runs)} runs compared</h1>", f'<p class="legend">{legend}</p>',
             "<h2>Settings that differ</h2>", _settings(comparison),
             "<h2>Numbers</h2><p>Last epoch; <code>test …</code> from <code>autoencode evaluate</code>. "
             "Click a column to sort.</p>", _numbers_table(comparison.rows),
             "<h2>Learning curves</h2>", _curves(runs, names, colours),
             "<h2>Reconstructions</h2>", _reconstructions(runs, names, images, data, data_dir),
             _samples(runs, names, seed), "<h2>Maps and pages</h2>",
             _maps(runs, names, comparison.path.parent)]  # fmt: skip
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>autoencode compare'
            f"</title><style>{STYLE}</style></head><body>{''.join(parts)}<script>{SORT}</script>"
            "</body></html>")  # fmt: skip


def _colours(n: int) -> list[str]:
    return [COLOURS[i % len(COLOURS)] for i in range(n)]


def _settings(comparison: Comparison) -> str:
    head = "".join(f"<th>{html.escape(n)}</th>" for n in comparison.names)
    rows = "".join(f"<tr><td>{html.escape(k)}</td>" + "".join(f"<td>{html.escape(number(v))}</td>" for v in values)
                   + "</tr>" for k, values in comparison.differ.items())  # fmt: skip
    shared = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(number(v))}</td></tr>"
                     for k, v in comparison.shared.items())  # fmt: skip
    differ = (
        f'<div class="scroll"><table><tr><th>setting</th>{head}</tr>{rows}</table></div>'
        if rows
        else "<p>none</p>"
    )
    return (f"{differ}<details><summary>{len(comparison.shared)} settings they share</summary>"
            f"<table>{shared}</table></details>")  # fmt: skip


def _numbers_table(rows: list[dict]) -> str:
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(
        f'<td data-value="{v}">{number(v)}</td>' if isinstance(v, (int, float)) else f"<td>{html.escape(str(v))}</td>"
        for v in row.values()) + "</tr>" for row in rows)  # fmt: skip
    return f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _curves(runs: list[Run], names: list[str], colours: dict[str, str]) -> str:
    """An SVG chart per history column (train and validation apart), one polyline per run."""
    columns = list(dict.fromkeys(k for r in runs for row in r.history for k in row
                                 if k not in ("epoch", "seconds")))  # fmt: skip
    charts = []
    for column in columns:
        series = {n: [row[column] for row in r.history if column in row]
                  for n, r in zip(names, runs, strict=True)}  # fmt: skip
        series = {n: s for n, s in series.items() if s and all(np.isfinite(s))}
        if series:
            charts.append(_chart(column, series, colours))
    return f'<div class="charts">{"".join(charts)}</div>'


def _chart(column: str, series: dict[str, list[float]], colours: dict[str, str],
           width: int = 340, height: int = 200, pad: int = 36) -> str:  # fmt: skip
    low = min(min(s) for s in series.values())
    high = max(max(s) for s in series.values())
    span, epochs = (high - low) or 1.0, max(len(s) for s in series.values())

    def point(i: int, v: float) -> str:
        x = pad + (width - 2 * pad) * (i / (epochs - 1) if epochs > 1 else 0.5)
        return f"{x:.1f},{height - pad - (height - 2 * pad) * (v - low) / span:.1f}"

    lines = "".join(f'<polyline class="curve" data-run="{html.escape(n)}" fill="none" stroke="{colours[n]}" '
                    f'stroke-width="1.5" points="{" ".join(point(i, v) for i, v in enumerate(s))}"/>'
                    + "".join(f'<circle r="2" fill="{colours[n]}" cx="{p.split(",")[0]}" cy="{p.split(",")[1]}"/>'
                              for p in (point(i, v) for i, v in enumerate(s)))
                    for n, s in series.items())  # fmt: skip
    axes = (f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>'
            f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#999"/>'
            f'<text x="2" y="{pad + 4}" font-size="10">{number(high)}</text>'
            f'<text x="2" y="{height - pad}" font-size="10">{number(low)}</text>'
            f'<text x="{width / 2}" y="{height - 8}" font-size="10" text-anchor="middle">epoch 1–{epochs}</text>')  # fmt: skip
    what = "validation " + column[4:] if column.startswith("val_") else "train " + column
    return (f'<figure><svg class="chart" data-column="{html.escape(column)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">{axes}{lines}</svg><figcaption>{html.escape(what)}</figcaption></figure>')  # fmt: skip


def _strip(images: np.ndarray) -> str:
    """Images (N, H, W) or (N, H, W, C) in [0, 1] side by side, as an inline PNG's source."""
    from matplotlib.image import imsave

    row = np.concatenate(list(images), axis=1)
    buffer = io.BytesIO()
    imsave(buffer, np.clip(row, 0, 1), cmap="binary" if row.ndim == 2 else None, format="png",
           vmin=0, vmax=1)  # fmt: skip
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _reconstructions(runs: list[Run], names: list[str], n: int, data, data_dir) -> str:
    """The first ``n`` validation images of each run's data, and each run's reconstructions."""
    rows, shown = [], None
    for name, run in zip(names, runs, strict=True):
        originals = run.load_dataset(data_dir, data=data).valid.images[:n]
        indices = ",".join(map(str, range(len(originals))))
        if shown is None or not np.array_equal(shown, originals):
            shown = originals
            rows.append(f'<tr><td>validation images 0–{len(originals) - 1}</td><td><img class="strip original" '
                        f'data-indices="{indices}" alt="originals" src="{_strip(originals / 255)}"></td></tr>')  # fmt: skip
        rows.append(f'<tr><td>{html.escape(name)}</td><td><img class="strip recon" data-run="{html.escape(name)}" '
                    f'data-indices="{indices}" alt="reconstructions by {html.escape(name)}" '
                    f'src="{_strip(run.reconstruct(originals))}"></td></tr>')  # fmt: skip
    return f"<table>{''.join(rows)}</table>"


def _samples(runs: list[Run], names: list[str], seed: int) -> str:
    rows = [f'<tr><td>{html.escape(n)}</td><td><img class="strip sample" data-run="{html.escape(n)}" '
            f'alt="samples of {html.escape(n)}" src="{_strip(r.sample(8, seed))}"></td></tr>'
            for n, r in zip(names, runs, strict=True) if r.model.generative]  # fmt: skip
    return f"<h2>Samples (seed {seed})</h2><table>{''.join(rows)}</table>" if rows else ""


def _maps(runs: list[Run], names: list[str], page_folder: Path) -> str:
    cells = []
    for name, run in zip(names, runs, strict=True):
        maps = sorted(run.figures.glob("map_*.png")) if run.figures.is_dir() else []
        image = (f'<img class="map" alt="map of {html.escape(name)}" src="data:image/png;base64,'
                 f'{base64.b64encode(maps[0].read_bytes()).decode()}">' if maps else "no map yet (autoencode map)")  # fmt: skip
        links = [f'<a href="{html.escape(os.path.relpath(p, page_folder))}">{p.name}</a>'
                 for p in [*run.folder.explore_pages(), run.folder.report_file] if p.is_file()]  # fmt: skip
        cells.append(f"<td><b>{html.escape(name)}</b><br>{image}<br>{' · '.join(links)}</td>")
    return f'<div class="scroll"><table class="maps"><tr>{"".join(cells)}</tr></table></div>'
