"""``autoencode generate``: new images decoded from random codings (variational models)."""

from __future__ import annotations

from autoencode.cli.options import positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("generate", help="generate new images from random codings",
                       description="Write RUN/figures/samples.png: N images decoded from codings "
                                   "drawn from N(0, I). Needs a generative model (preset vae).")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("-n", "--images", type=positive_int, default=12, help="how many (default 12)")
    p.add_argument("--seed", type=int, default=42, help="the same seed gives the same images")
    p.add_argument("--out", help="PNG path (default RUN/figures/samples.png)")
    p.add_argument("--npy", help="also save the images as a float32 .npy array here")
    p.set_defaults(run=run)


def run(args) -> int:
    import numpy as np

    from autoencode.figures import image_grid_figure, save_figure
    from autoencode.training.checkpoint import write_npy
    from autoencode.training.runfolder import load_run

    run_ = load_run(args.run_folder)
    if not run_.model.generative:
        from autoencode.errors import AutoencodeError

        raise AutoencodeError(f"{args.run_folder}: a {run_.config['model']['kind']!r} model cannot "
                              "generate; train a variational one (--preset vae)")  # fmt: skip
    images = run_.sample(args.images, args.seed)
    path = save_figure(image_grid_figure(images), args.out or run_.figures / "samples.png")
    print(f"wrote {path}")
    if args.npy:
        npy = write_npy(args.npy, images.astype(np.float32))
        print(f"wrote {npy}")
    return 0
