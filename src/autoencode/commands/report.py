"""A run folder as one self-contained HTML page: settings, history, numbers and every figure."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from urllib.parse import quote

from autoencode.commands.compare import flat_settings, number
from autoencode.figures import history_figure
from autoencode.io import write_text
from autoencode.run import Run, load_run

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
pre{background:#f7f7f7;padding:.6rem;overflow-x:auto}figure{margin:0 0 1.5rem}figcaption{color:#555;font-size:.9rem}"""


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>none</p>"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(number(row.get(c, '')))}</td>" for c in columns)
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _pairs(pairs) -> str:
    """Name–value pairs as a two-column table, the values rounded for reading."""
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(number(v))}</td></tr>"
                   for k, v in pairs)  # fmt: skip
    return f"<table>{rows}</table>" if rows else "<p>none</p>"


def _png(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


# what each figure a command writes shows (by its name's start)
CAPTIONS = {
    "reconstructions": "validation images (top) above their reconstructions",
    "samples": "new images decoded from random codings",
    "interpolation": "images decoded along the line between two images' codings",
    "map_": "a 2-D map of the codings, coloured by class",
    "pretraining": "test accuracy against the number of labels, by mode, with intervals",
    "search": "queries and their nearest images in coding space",
    "anomalies_": "the most and least anomalous images, with their scores",
}


def _caption(name: str) -> str:
    return next((text for start, text in CAPTIONS.items() if name.startswith(start)), name)


def runtime_line(runtime: dict) -> str:
    """Where and with what a run trained, in one line."""
    if not runtime:
        return ""
    threads, processes = runtime.get("threads"), runtime.get("processes")
    several = isinstance(processes, int) and processes > 1  # someone else's config: any JSON
    return (f"trained on {runtime.get('device', '?')}"
            + (f", {threads} thread{'s' if threads != 1 else ''}" if threads else "")
            + (f", {processes} processes" if several else "")
            + f"; autoencode {runtime.get('autoencode', '?')}, torch {runtime.get('torch', '?')}, "
            f"Python {runtime.get('python', '?')}; {runtime.get('created', '')}")  # fmt: skip


def render_report(run: Run | str | Path) -> str:
    """The HTML of a run folder's report."""
    run = load_run(run)
    config = run.config
    metrics = run.folder.read_metrics()
    settings = flat_settings(run)
    parts = [f"<h1>{html.escape(run.path.name)}</h1>",
             f"<p>{html.escape(config.model.description)} (preset <b>{html.escape(str(config.preset))}"
             f"</b>) · data <b>{html.escape(config.data.describe())}</b></p>",
             f"<p><small>{html.escape(runtime_line(config.runtime))}</small></p>",
             "<h2>Model</h2>", _pairs((k, v) for k, v in settings.items() if k.startswith("model.")),
             "<h2>Training</h2>", _pairs((k, v) for k, v in settings.items() if k.startswith("training."))]  # fmt: skip
    parts += ["<h2>History</h2>"]
    if run.history:
        buffer = io.BytesIO()
        history_figure(run.history).savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        parts.append(f"<figure>{_png(buffer.getvalue(), 'loss per epoch')}<figcaption>loss per "
                     "epoch, train and validation</figcaption></figure>")  # fmt: skip
    parts.append(_table(run.history))
    pages = run.folder.explore_pages()  # autoencode explore's, beside this report
    if pages:
        parts += ["<h2>Explore the codings</h2>", "<ul>"] + [
            f'<li><a href="{html.escape(quote(p.name))}">{html.escape(p.name)}</a>: the map of every '
            "point, neighbours in coding space, a decoder in the page</li>" for p in pages
        ] + ["</ul>"]  # fmt: skip
    parts += ["<h2>Numbers</h2>", _numbers(metrics)]
    figures = sorted(run.figures.glob("*.png")) if run.figures.is_dir() else []
    parts += ["<h2>Figures</h2>"] + [
        f"<figure>{_png(f.read_bytes(), f.name)}<figcaption>{html.escape(_caption(f.stem))} "
        f"(<code>figures/{html.escape(f.name)}</code>)</figcaption></figure>" for f in figures
    ]  # fmt: skip
    return (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(run.path.name)}</title><style>{STYLE}</style>"
        + "".join(parts)
    )


def _numbers(metrics: dict) -> str:
    """Each section of metrics.json as a table (the label sweep's test accuracies: a row per
    label count, a column per mode); the file itself folded below."""
    parts = []
    for section, values in metrics.items():
        shown = (_table([{"labels": n, **modes} for n, modes in values.items()])
                 if section == "pretraining" and all(isinstance(m, dict) for m in values.values())
                 else _pairs((k, v) for k, v in _leaves(values) if not k.endswith("sha256")))  # fmt: skip
        parts += [f"<h3>{html.escape(section)}</h3>", shown]
    return "".join(parts) + (f"<details><summary>metrics.json</summary><pre>"
                             f"{html.escape(json.dumps(metrics, indent=2))}</pre></details>")  # fmt: skip


def _leaves(values, prefix: str = ""):
    """Every value of a metrics section (nested keys dotted), lists as their text."""
    for key, value in values.items() if isinstance(values, dict) else ():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield (
                f"{prefix}{key}",
                value if isinstance(value, (int, float, str)) else json.dumps(value),
            )


def write_report(run: Run | str | Path) -> Path:
    """Write ``report.html`` into the run folder (atomically) and return its path."""
    run = load_run(run)
    return write_text(run.folder.report_file, render_report(run))
