"""``autoencode demo``: the seed's whole workflow on Fashion-MNIST, as the commands a user would type."""

from __future__ import annotations

from autoencode.cli.options import add_data_options, add_device_options, positive_ints


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the seed's whole workflow (about 5 minutes on 2 CPU cores)",
                       description="Train the seed's stacked, convolutional and variational "
                                   "autoencoders on Fashion-MNIST and write every figure of the "
                                   "seed: reconstructions, a t-SNE map of the codings, "
                                   "pretraining with few labels, generated images, and, per "
                                   "run, a page to explore the codings (explore.html) and a "
                                   "report (report.html). Each step prints the command it runs.")  # fmt: skip
    p.add_argument(
        "--out", default="runs/demo", help="folder for the three runs (default runs/demo)"
    )
    p.add_argument("--fast", action="store_true",
                   help="the fast presets (stacked-fast, conv-fast, vae-fast): the seed's quality "
                        "in a fraction of the time")  # fmt: skip
    p.add_argument("--quick", action="store_true",
                   help="one epoch each and a short pretraining: a check that everything works")  # fmt: skip
    p.add_argument("--labels", type=positive_ints, default=[100, 300, 1000, 3000, 10000],
                   help="label counts of the pretraining sweep (2 seeds; default "
                        "100,300,1000,3000,10000)")  # fmt: skip
    add_data_options(p)
    add_device_options(p)
    p.set_defaults(run=run)


def steps(out: str, quick: bool = False,
          labels: list[int] | None = (100, 300, 1000, 3000, 10000),
          fast: bool = False) -> list[list[str]]:  # fmt: skip
    """The commands, in order: each is ``autoencode`` argv (``labels=None``: no pretraining;
    ``fast``: the fast presets, in folders of their names)."""
    names = [f"{name}-fast" if fast else name for name in ("stacked", "conv", "vae")]
    stacked, conv, vae = (f"{out}/{name}" for name in names)
    epochs = ["--epochs", "1"] if quick else []
    sweep = ["--seeds", "2", "--overwrite", *(["--max-epochs", "2"] if quick else [])]
    counts = ",".join(map(str, labels or ()))
    return [
        ["summary", "--preset", names[0]],
        ["train", "--preset", names[0], "--out", stacked, "--overwrite", *epochs],
        ["reconstruct", stacked],
        ["map", stacked, "--method", "tsne"],
        ["explore", stacked],  # reuses the map above
        *([["pretrain", stacked, "--labels", counts, *sweep]] if labels else []),
        ["train", "--preset", names[1], "--out", conv, "--overwrite", *epochs],
        ["reconstruct", conv],
        ["explore", conv],
        ["train", "--preset", names[2], "--out", vae, "--overwrite", *epochs],
        ["generate", vae, "-n", "12"],
        ["interpolate", vae, "--between", "0", "1", "--steps", "8"],
        ["explore", vae],
        *(["report", run] for run in (stacked, conv, vae)),
        ["compare", stacked, conv, vae, "--out", f"{out}/compare.html"],
    ]


# the options each command takes that the demo passes on
TAKES_DATA = {"train", "reconstruct", "map", "explore", "pretrain", "interpolate", "compare"}
TAKES_DEVICE = {"train", "pretrain"}


def pretraining_labels(data, wanted: list[int]) -> list[int] | None:
    """The label counts the pretraining sweep can use on ``data`` (those up to the training
    split's size); None (with a note) if it can't run."""
    splits = (data.train, data.valid, data.test)
    if any(s is None or s.labels is None for s in splits):
        print(f"(no pretraining step: {data.name!r} has no labelled train, valid and test splits)")
        return None
    fit = [n for n in wanted if n <= len(data.train)]
    if len(fit) < len(wanted):
        fit = fit or [len(data.train)]
        print(f"(pretraining with {','.join(map(str, fit))} labels: the training split has "
              f"{len(data.train)} images)")  # fmt: skip
    return fit


def run(args) -> int:
    from autoencode.cli.main import main
    from autoencode.data.datasets import load_dataset

    labels = pretraining_labels(
        load_dataset(args.data or "fashion-mnist", args.data_dir), args.labels
    )
    for argv in steps(args.out, args.quick, labels, args.fast):
        for option in ("data", "data_dir"):
            if getattr(args, option) and argv[0] in TAKES_DATA:
                argv = [*argv, f"--{option.replace('_', '-')}", getattr(args, option)]
        if argv[0] in TAKES_DEVICE:
            argv = [*argv, "--device", args.device]
        print(f"$ autoencode {' '.join(argv)}", flush=True)
        code = main(argv)
        if code:
            return code
    print(f"figures: {args.out}/*/figures/*.png; one report per run: {args.out}/*/report.html, "
          f"and a page to explore its codings: {args.out}/*/explore.html")  # fmt: skip
    return 0
