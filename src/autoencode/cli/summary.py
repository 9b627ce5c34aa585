"""``autoencode summary``: the layers, output shapes and parameter counts of a preset or a run."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("summary", help="print a model's layers and parameter counts",
                       description="Print a table of layers, output shapes and parameters "
                                   "(the seed's model.summary()).")  # fmt: skip
    p.add_argument("run_folder", nargs="?", metavar="RUN", help="a run folder (else --preset)")
    p.add_argument("--preset", help="a named configuration; without RUN or --preset, lists presets")
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.summary import summary
    from autoencode.presets import PRESETS, get_preset

    if not args.run_folder and not args.preset:
        for preset in PRESETS.values():
            print(f"{preset.name:12} {preset.description}")
        return 0
    print(summary(args.run_folder or get_preset(args.preset).name))
    return 0
