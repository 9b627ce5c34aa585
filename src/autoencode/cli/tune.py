"""``autoencode tune``: search a preset's settings with Optuna, each trial a run folder."""

from __future__ import annotations

from autoencode.cli.options import add_data_options, add_device_options, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("tune", help="search settings with Optuna (each trial a run folder)",
                       description="Search a preset's settings for the lowest validation loss "
                                   "with Optuna (TPE, trials pruned on their validation loss). "
                                   "The study is OUT/study.sqlite: run again, a killed tune goes "
                                   "on. Writes OUT/tune.json (best settings, trials, importances) "
                                   "and OUT/compare.html. SPEC: log:LOW:HIGH, float:LOW:HIGH, "
                                   "int:LOW:HIGH or choice:A,B,...")  # fmt: skip
    p.add_argument("preset")
    p.add_argument("--param", dest="params", metavar="NAME=SPEC", action="append", default=[],
                   required=True,
                   help="a setting to search: lr=log:1e-4:1e-1, coding_size=int:5:60, "
                        "batch_size=choice:64,128, objective.beta=float:0.5:4")  # fmt: skip
    p.add_argument("--trials", type=positive_int, default=20)
    p.add_argument(
        "--epochs", type=positive_int, help="every trial's epochs (default: the preset's)"
    )
    p.add_argument("--seed", type=int, default=42, help="the sampler's seed")
    p.add_argument("--out", help="folder of the study and its trials (default runs/tune-PRESET)")
    add_data_options(p)
    add_device_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.tune import tune

    fixed = {"epochs": args.epochs} if args.epochs else {}
    result = tune(args.preset, args.data, args.out, trials=args.trials, params=args.params,
                  seed=args.seed, data_dir=args.data_dir, device=args.device, **fixed)  # fmt: skip
    for trial in result["trials"]:
        value = "" if trial["value"] is None else f" val_loss {trial['value']:.4f}"
        print(f"trial {trial['trial']}: {trial['state']}{value} {trial['params']}")
    best = result["best"]
    print(
        f"best: trial {best['trial']}, val_loss {best['value']:.4f}, {best['params']} "
        f"({result['pruned']} pruned)"
    )
    print(f"wrote {best['run']}")
    if "compare" in result:
        print(f"wrote {result['compare']}")
    return 0
