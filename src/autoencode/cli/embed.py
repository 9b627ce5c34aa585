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
    from pathlib import Path

    from autoencode.analysis.embedding import embed, write_codings
    from autoencode.analysis.evaluation import split_of
    from autoencode.cli.reconstruct import run_and_data

    run_, data = run_and_data(args)
    split = split_of(data, args.split)
    out = Path(args.out or run_.path / f"codings_{args.split}.npy")
    codings = embed(run_, split.images, progress=True)
    print(
        f"wrote {write_codings(out, codings, split.labels)} ({codings.shape[0]} × {codings.shape[1]})"
    )
    return 0
