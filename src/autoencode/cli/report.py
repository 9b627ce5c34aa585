"""``autoencode report``: one self-contained HTML page of a run (settings, history, numbers, figures)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write RUN/report.html with every figure and number",
                       description="Write RUN/report.html: settings, history (table and plot), "
                                   "metrics.json and every figure in RUN/figures, in one file.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.report import write_report

    print(f"wrote {write_report(args.run_folder)}")
    return 0
