"""``autoencode embed``: the codings of a split, as .npy or .csv (with a label column)."""

from __future__ import annotations

from autoencode.cli.options import add_data_options


def add_parser(sub) -> None:
    p = sub.add_parser("embed", help="write the codings of a split (.npy or .csv)",
                       description="Write the codings of a split: .npy (N, D) float32, or .csv "
                                   "with a label column. Conv codings are flattened.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test", "all"])
    p.add_argument("--out", help="file (.npy or .csv; default RUN/codings_<split>.npy)")
    add_data_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.embed import save_codings

    path, (n, d) = save_codings(args.run_folder, args.data, split=args.split, out=args.out,
                                data_dir=args.data_dir, progress=True)  # fmt: skip
    print(f"wrote {path} ({n} × {d})")
    return 0
