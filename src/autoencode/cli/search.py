"""``autoencode search``: the images nearest to a query in coding space."""

from __future__ import annotations

from autoencode.cli.options import add_data_options, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("search", help="find the images nearest to queries in coding space",
                       description="For each query (an image file, or an index into --split) "
                                   "the K images of --in nearest in coding space (exact search): "
                                   "a figure, each query then its neighbours "
                                   "(RUN/figures/search.png), and a CSV (RUN/search.csv).")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("queries", metavar="QUERY", nargs="+", help="an image file, or an index")
    p.add_argument("-k", type=positive_int, default=8, help="neighbours per query (default 8)")
    p.add_argument("--in", dest="within", default="train", metavar="SPLIT_OR_DATA",
                   help="where to search: train (default), valid, test, all, or a data file or "
                        "folder (all its images)")  # fmt: skip
    p.add_argument("--split", dest="query_split", default="test",
                   choices=["train", "valid", "test", "all"],
                   help="the split that index queries point into (default test)")  # fmt: skip
    p.add_argument("--metric", default="euclidean", help="euclidean (default) or cosine")
    p.add_argument("--out", help="PNG path (default RUN/figures/search.png)")
    p.add_argument("--csv", help="CSV path (default RUN/search.csv)")
    add_data_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.search import save_search

    result, written = save_search(args.run_folder, args.queries, args.data, within=args.within,
                                  query_split=args.query_split, k=args.k, metric=args.metric,
                                  out=args.out, csv=args.csv, data_dir=args.data_dir)  # fmt: skip
    for q, name in enumerate(result.names):
        found = ", ".join(f"#{i} ({d:.3g})" for i, d in zip(result.indices[q], result.distances[q],
                                                            strict=True))  # fmt: skip
        print(f"{name}: {found}")
    for path in written:
        print(f"wrote {path}")
    return 0
