"""``autoencode compare``: runs side by side in one HTML page, and their numbers as a table."""

from __future__ import annotations

from autoencode.cli.options import add_data_options, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="compare runs: one HTML page and a table",
                       description="Write one self-contained HTML page comparing runs: the "
                                   "settings that differ, a sortable table of their numbers, "
                                   "learning curves, the same validation images reconstructed "
                                   "by each, samples of the generative ones, their maps and "
                                   "links to their pages; print the numbers.")  # fmt: skip
    p.add_argument("run_folders", metavar="RUN", nargs="+")
    p.add_argument("--out", help="HTML path (default: compare.html in the folder holding the runs)")
    p.add_argument("--allow-different-data", action="store_true",
                   help="compare runs trained on different data (each shows its own images)")  # fmt: skip
    p.add_argument(
        "--images", type=positive_int, default=8, help="validation images to reconstruct"
    )
    p.add_argument("--seed", type=int, default=0, help="the samples' seed")
    add_data_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.compare import compare

    result = compare(args.run_folders, args.out, allow_different_data=args.allow_different_data,
                     images=args.images, seed=args.seed, data=args.data,
                     data_dir=args.data_dir)  # fmt: skip
    print(result.table())
    print(f"wrote {result.path}")
    return 0
