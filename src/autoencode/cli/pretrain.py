"""``autoencode pretrain``: when does the autoencoder's encoder help a classifier with few labels?"""

from __future__ import annotations

from autoencode.cli.options import (
    add_data_options,
    add_device_options,
    positive_float,
    positive_int,
    positive_ints,
)

MODES = ("frozen", "finetune", "scratch", "pca")  # analysis.pretraining.MODES, without torch


def add_parser(sub) -> None:
    p = sub.add_parser("pretrain", help="a label sweep: the run's encoder under a classifier vs scratch",
                       description="For each number of --labels and each of --seeds seeds, draw "
                                   "that many class-balanced labelled training images and train "
                                   "on them a classifier (+ dense softmax) made of RUN's encoder "
                                   "layers, frozen or fine-tuned, the same classifier from "
                                   "scratch, and logistic regression on PCA features; each "
                                   "network with the same budget and early stopping on the "
                                   "validation split. Writes RUN/pretrain/results.csv, "
                                   "summary.json (means, 95%% intervals, paired differences) and "
                                   "RUN/figures/pretraining.png. Run again, it continues where it "
                                   "stopped.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--labels", type=positive_ints, default=[100, 300, 1000, 3000, 10000],
                   help="labelled images, comma-separated (default 100,300,1000,3000,10000)")  # fmt: skip
    p.add_argument(
        "--seeds", type=positive_int, default=5, help="seeds per label count (default 5)"
    )
    p.add_argument("--seed", type=int, default=42, help="the first seed (default 42)")
    p.add_argument("--modes", type=_modes, default=list(MODES),
                   help=f"comma-separated, of {','.join(MODES)} (default all)")  # fmt: skip
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam's learning rate (1e-3)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="(default 64)")
    p.add_argument("--max-epochs", type=positive_int, default=500, help="(default 500)")
    p.add_argument("--max-images", type=positive_int, default=100_000,
                   help="images seen at most per classifier: the same number of steps whatever "
                        "the labels, up to --max-epochs (default 100000)")  # fmt: skip
    p.add_argument("--patience", type=positive_int, default=5,
                   help="validation checks without a gain before stopping (default 5)")  # fmt: skip
    p.add_argument("--valid-size", type=positive_int, default=1000,
                   help="validation images for early stopping (default 1000)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="start the sweep again")
    add_data_options(p)
    add_device_options(p)
    p.set_defaults(run=run)


def _modes(text: str) -> list[str]:
    import argparse

    modes = text.split(",")
    if not all(m in MODES for m in modes):
        raise argparse.ArgumentTypeError(f"expected some of {','.join(MODES)}, got {text!r}")
    return modes


def run(args) -> int:
    from autoencode.analysis.pretraining import SweepSettings
    from autoencode.commands.pretrain import pretrain

    settings = SweepSettings(lr=args.lr, batch_size=args.batch_size, max_epochs=args.max_epochs,
                             max_images=args.max_images, patience=args.patience,
                             valid_size=args.valid_size)  # fmt: skip
    summary = pretrain(args.run_folder, args.data, args.labels, args.seeds, args.modes,
                       seed=args.seed, settings=settings, device=args.device, progress=True,
                       data_dir=args.data_dir, overwrite=args.overwrite)  # fmt: skip
    print(table(summary))
    print(f"wrote {args.run_folder}/pretrain/results.csv, summary.json and figures/pretraining.png")
    return 0


def table(summary: dict) -> str:
    """Test accuracy per label count and mode: mean [95% interval]."""
    modes = list(dict.fromkeys(m for entry in summary.values() for m in entry["modes"]))
    lines = ["labels  " + "".join(f"{m:>24s}" for m in modes)]
    for n, entry in summary.items():
        cells = [_cell(entry["modes"].get(m)) for m in modes]
        lines.append(f"{n:>6s}  " + "".join(f"{c:>24s}" for c in cells))
    return "\n".join(lines)


def _cell(cell: dict | None) -> str:
    if cell is None:
        return "-"
    if cell["low"] is None:
        return f"{cell['mean']:.4f}"
    return f"{cell['mean']:.4f} [{cell['low']:.4f}, {cell['high']:.4f}]"
