"""``autoencode demo``: the seed's whole workflow on Fashion-MNIST, as the commands a user would type."""

from __future__ import annotations

from autoencode.cli.options import positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the seed's whole workflow (about 3 minutes on 2 cores)",
                       description="Train the seed's stacked, convolutional and variational "
                                   "autoencoders on Fashion-MNIST and write every figure of the "
                                   "seed: reconstructions, a t-SNE map of the codings, "
                                   "pretraining with few labels, generated images, and one "
                                   "report.html per run. Each step prints the command it runs.")  # fmt: skip
    p.add_argument(
        "--out", default="runs/demo", help="folder for the three runs (default runs/demo)"
    )
    p.add_argument("--quick", action="store_true",
                   help="one epoch each and a short pretraining: a check that everything works")  # fmt: skip
    p.add_argument(
        "--data",
        help="another dataset: a .npz/.npy file or an image folder (default fashion-mnist)",
    )
    p.add_argument("--labels", type=positive_int, default=500,
                   help="labelled images for the pretraining step (default 500)")  # fmt: skip
    p.add_argument("--data-dir", help="folder holding the Fashion-MNIST .gz files")
    p.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda, cuda:N")
    p.set_defaults(run=run)


def steps(out: str, quick: bool = False, labels: int = 500) -> list[list[str]]:
    """The commands, in order: each is ``autoencode`` argv."""
    stacked, conv, vae = (f"{out}/{name}" for name in ("stacked", "conv", "vae"))
    epochs = ["--epochs", "1"] if quick else []
    pretrain_epochs = ["--epochs", "2", "--fine-tune-epochs", "2"] if quick else []
    return [
        ["summary", "--preset", "stacked"],
        ["train", "--preset", "stacked", "--out", stacked, "--overwrite", *epochs],
        ["reconstruct", stacked],
        ["map", stacked, "--method", "tsne"],
        ["pretrain", stacked, "--labels", str(labels), *pretrain_epochs],
        ["train", "--preset", "conv", "--out", conv, "--overwrite", *epochs],
        ["reconstruct", conv],
        ["train", "--preset", "vae", "--out", vae, "--overwrite", *epochs],
        ["generate", vae, "-n", "12"],
        ["interpolate", vae, "--between", "0", "1", "--steps", "8"],
        *(["report", run] for run in (stacked, conv, vae)),
    ]


# the options each command takes that the demo passes on
TAKES_DATA = {"train", "reconstruct", "map", "pretrain", "interpolate"}
TAKES_DEVICE = {"train", "pretrain"}


def run(args) -> int:
    from autoencode.cli.main import main

    for argv in steps(args.out, args.quick, args.labels):
        for option in ("data", "data_dir"):
            if getattr(args, option) and argv[0] in TAKES_DATA:
                argv = [*argv, f"--{option.replace('_', '-')}", getattr(args, option)]
        if argv[0] in TAKES_DEVICE:
            argv = [*argv, "--device", args.device]
        print(f"$ autoencode {' '.join(argv)}", flush=True)
        code = main(argv)
        if code:
            return code
    print(f"figures: {args.out}/*/figures/*.png; one page per run: {args.out}/*/report.html")
    return 0
