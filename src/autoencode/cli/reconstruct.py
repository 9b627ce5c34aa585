"""``autoencode reconstruct``: originals over their reconstructions, as a figure."""

from __future__ import annotations

from autoencode.cli.options import add_data_options, non_negative_float, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("reconstruct", help="draw images above their reconstructions",
                       description="Write RUN/figures/reconstructions.png: the first N images "
                                   "of a split above their reconstructions.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("-n", "--images", type=positive_int, default=5, help="how many (default 5)")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    p.add_argument("--noise", type=non_negative_float, default=0.0,
                   help="give the model the images with Gaussian noise of this standard "
                        "deviation (0-1 scale), shown in a middle row")  # fmt: skip
    p.add_argument("--out", help="PNG path (default RUN/figures/reconstructions.png)")
    add_data_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.reconstruct import save_reconstructions

    path = save_reconstructions(args.run_folder, args.data, split=args.split, images=args.images,
                                noise=args.noise,
                                out=args.out, data_dir=args.data_dir)  # fmt: skip
    print(f"wrote {path}")
    return 0
