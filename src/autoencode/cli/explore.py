"""``autoencode explore``: one self-contained HTML page to explore the codings, decoding live."""

from __future__ import annotations

from autoencode.cli.options import add_data_options


def add_parser(sub) -> None:
    p = sub.add_parser("explore", help="write one HTML page to explore the codings (offline)",
                       description="Write one self-contained HTML page (no server, no network): "
                                   "the 2-D map of a split's codings with every point, the image "
                                   "under the cursor, a clicked point's nearest neighbours in "
                                   "coding space and its reconstruction, and a decoder that runs "
                                   "in the page (sliders per coding dimension; a click on empty "
                                   "space decodes there). Reuses the map of `autoencode map` for "
                                   "the same split and method.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test", "all"])
    p.add_argument("--method", default="tsne", help="tsne (openTSNE), umap (optional extra) or pca")
    p.add_argument(
        "--seed",
        type=int,
        default=42,
        help="the map's seed, when one is drawn, and the sample button's",
    )
    p.add_argument("--sampler", default="auto",
                   help="what the decode panel's sample button draws from: a fitted sampler's "
                        "name, prior, or none (default auto: the run's fitted sampler, gmm "
                        "first, else its prior if it has one)")  # fmt: skip
    p.add_argument("--out", help="HTML path (default RUN/explore.html; RUN/explore_<split>.html "
                                 "for another split than valid)")  # fmt: skip
    add_data_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.explore import explore

    path = explore(args.run_folder, args.data, split=args.split, method=args.method,
                   seed=args.seed, out=args.out, data_dir=args.data_dir, progress=True,
                   sampler=None if args.sampler == "none" else args.sampler)  # fmt: skip
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): open it in a browser")
    return 0
