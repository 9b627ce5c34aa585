"""``autoencode zoo``: every preset on your data, in one table and a compare page."""

from __future__ import annotations

from autoencode.cli.options import add_data_options, add_device_options, minutes, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("zoo", help="train and score every preset on your data, in one table",
                       description="Train each preset (or those named) on the data into "
                                   "OUT/PRESET and score it on the test split (the validation "
                                   "split where there is none). With --minutes the whole call "
                                   "keeps to that budget, each preset's epochs fitted to its "
                                   "share. Writes OUT/zoo.json, OUT/zoo.md (the table) and "
                                   "OUT/compare.html.")  # fmt: skip
    p.add_argument("--presets", nargs="+", metavar="PRESET", help="default: every preset")
    p.add_argument("--minutes", type=minutes,
                   help="a time budget for the whole call, training and scoring (default: each "
                        "preset's own epochs)")  # fmt: skip
    p.add_argument("--epochs", type=positive_int, help="the same epochs for every preset")
    p.add_argument("--samples", type=int, default=5000,
                   help="generative presets: score this many samples (Fréchet distance, "
                        "precision/recall; needs labels); 0 skips it (default 5000)")  # fmt: skip
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", help="folder of the runs and the table (default runs/zoo)")
    p.add_argument("--overwrite", action="store_true", help="replace run folders already there")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_data_options(p)
    add_device_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.zoo import zoo, zoo_table

    result = zoo(args.data, args.out, presets=args.presets, minutes=args.minutes,
                 epochs=args.epochs, seed=args.seed, samples=args.samples, device=args.device,
                 data_dir=args.data_dir, overwrite=args.overwrite,
                 progress=not args.quiet)  # fmt: skip
    print(zoo_table(result["rows"], result["split"]))
    spent = f"{result['wall_s'] / 60:.1f} min"
    if result["budget_s"] is not None:
        spent += f" of a {result['budget_s'] / 60:g}-minute budget"
    print(spent)
    if "compare" in result:
        print(f"wrote {result['compare']}")
    return 0
