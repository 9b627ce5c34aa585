"""``autoencode reconstruct``: originals over their reconstructions, as a figure."""

from __future__ import annotations

from autoencode.cli.options import add_data_options, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("reconstruct", help="draw images above their reconstructions",
                       description="Write RUN/figures/reconstructions.png: the first N images "
                                   "of a split above their reconstructions.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("-n", "--images", type=positive_int, default=5, help="how many (default 5)")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    p.add_argument("--out", help="PNG path (default RUN/figures/reconstructions.png)")
    add_data_options(p)
    p.set_defaults(run=run)


def run_and_data(args):
    """The run folder and its dataset (or ``--data``)."""
    from autoencode.data.datasets import load_dataset
    from autoencode.training.runfolder import load_run

    run_ = load_run(args.run_folder)
    data = load_dataset(args.data, args.data_dir) if args.data else run_.load_dataset(args.data_dir)
    return run_, data


def run_and_split(args):
    """The run folder and the chosen split of its dataset (or of ``--data``)."""
    run_, data = run_and_data(args)
    return run_, data.split(args.split)


def run(args) -> int:
    from autoencode.figures import reconstruction_figure, save_figure

    run_, split = run_and_split(args)
    originals = split.images[: args.images]
    figure = reconstruction_figure(originals, run_.reconstruct(originals))
    path = save_figure(figure, args.out or run_.figures / "reconstructions.png")
    print(f"wrote {path}")
    return 0
