"""A run folder as one self-contained HTML page: settings, history, numbers and every figure."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from urllib.parse import quote

from autoencode.figures import history_figure
from autoencode.io import write_text
from autoencode.run import Run, load_run

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
pre{background:#f7f7f7;padding:.6rem;overflow-x:auto}"""


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>none</p>"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(c, ''))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else html.escape(str(value))


def _png(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def render_report(run: Run | str | Path) -> str:
    """The HTML of a run folder's report."""
    run = load_run(run)
    config = run.config
    metrics = run.folder.read_metrics()
    parts = [f"<h1>{html.escape(run.path.name)}</h1>",
             f"<p>preset <b>{html.escape(str(config.preset))}</b>, "
             f"data <b>{html.escape(config.data.describe())}</b>, "
             f"{html.escape(json.dumps(config.runtime))}</p>"]  # fmt: skip
    parts += [
        "<h2>Model</h2>",
        _table([config.model.to_dict()]),
        "<h2>Training</h2>",
        _table([config.training.to_dict()]),
    ]
    parts += ["<h2>History</h2>"]
    if run.history:
        buffer = io.BytesIO()
        history_figure(run.history).savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        parts.append(_png(buffer.getvalue(), "loss per epoch"))
    parts.append(_table(run.history))
    pages = run.folder.explore_pages()  # autoencode explore's, beside this report
    if pages:
        parts += ["<h2>Explore the codings</h2>", "<ul>"] + [
            f'<li><a href="{html.escape(quote(p.name))}">{html.escape(p.name)}</a>: the map of every '
            "point, neighbours in coding space, a decoder in the page</li>" for p in pages
        ] + ["</ul>"]  # fmt: skip
    parts += ["<h2>Metrics</h2>", f"<pre>{html.escape(json.dumps(metrics, indent=2))}</pre>"]
    figures = sorted(run.figures.glob("*.png")) if run.figures.is_dir() else []
    parts += ["<h2>Figures</h2>"] + [
        f"<h3>{html.escape(f.name)}</h3>{_png(f.read_bytes(), f.name)}" for f in figures
    ]
    return (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(run.path.name)}</title><style>{STYLE}</style>"
        + "".join(parts)
    )


def write_report(run: Run | str | Path) -> Path:
    """Write ``report.html`` into the run folder (atomically) and return its path."""
    run = load_run(run)
    return write_text(run.folder.report_file, render_report(run))
