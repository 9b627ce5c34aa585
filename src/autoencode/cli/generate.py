"""``autoencode generate``: new images decoded from random codings (a prior or a fitted sampler)."""

from __future__ import annotations

from autoencode.cli.options import positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("generate", help="generate new images from random codings",
                       description="Write RUN/figures/samples.png: N images decoded from codings "
                                   "drawn from the objective's prior (a variational model's "
                                   "N(0, I)), or with --sampler from a sampler fitted on the run's "
                                   "codings (autoencode fit-sampler), which any model can have.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("-n", "--images", type=positive_int, default=12, help="how many (default 12)")
    p.add_argument("--seed", type=int, default=42, help="the same seed gives the same images")
    p.add_argument("--out", help="PNG path (default RUN/figures/samples.png)")
    p.add_argument("--sampler", default=None,
                   help="a sampler fitted on the run (autoencode fit-sampler), by name; "
                        "default: the objective's prior")  # fmt: skip
    p.add_argument("--npy", help="also save the images as a float32 .npy array here")
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.generate import save_samples

    for path in save_samples(
        args.run_folder,
        args.images,
        seed=args.seed,
        out=args.out,
        npy=args.npy,
        sampler=args.sampler,
    ):
        print(f"wrote {path}")
    return 0
