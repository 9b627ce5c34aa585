"""``autoencode interpolate``: decode the straight line between the codings of two images."""

from __future__ import annotations

from autoencode.cli.options import add_data_options, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("interpolate", help="decode a line between two images' codings",
                       description="Write RUN/figures/interpolation.png: images decoded from "
                                   "evenly spaced points between the codings of images I and J "
                                   "(the means, for a variational model), or between two codings "
                                   "drawn from a sampler (--sampler).")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--between", nargs=2, type=int, metavar=("I", "J"), default=(0, 1),
                   help="indices of the two images in the split (default 0 1)")  # fmt: skip
    p.add_argument("--steps", type=positive_int, default=8, help="images in the strip (default 8)")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    p.add_argument("--sampler", default=None,
                   help="instead of two images, two codings drawn from this sampler (a fitted "
                        "one's name, or prior)")  # fmt: skip
    p.add_argument(
        "--seed", type=int, default=42, help="with --sampler: the same seed, the same two"
    )
    p.add_argument("--out", help="PNG path (default RUN/figures/interpolation.png)")
    add_data_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.interpolate import save_interpolation

    path = save_interpolation(args.run_folder, tuple(args.between), args.data, split=args.split,
                              steps=args.steps, out=args.out, data_dir=args.data_dir,
                              sampler=args.sampler, seed=args.seed)  # fmt: skip
    print(f"wrote {path}")
    return 0
