"""``autoencode map``: a 2-D map (t-SNE, UMAP or PCA) of a split's codings, coloured by class."""

from __future__ import annotations

from autoencode.cli.options import add_data_options


def add_parser(sub) -> None:
    p = sub.add_parser("map", help="draw a 2-D map of the codings (t-SNE, UMAP, PCA)",
                       description="Write RUN/figures/map_<method>.png (map_<method>_<split>.png "
                                   "for another split than valid) and the 2-D coordinates "
                                   "beside it (map_<method>.npy); prints the map's "
                                   "trustworthiness (k = 10).")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--method", default="tsne", help="tsne (openTSNE), umap (optional extra) or pca")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test", "all"])
    p.add_argument("--thumbnails", action="store_true", help="draw images at spread-out points")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", help="PNG path (default RUN/figures/map_<method>.png; "
                                "map_<method>_<split>.png for another split than valid)")  # fmt: skip
    add_data_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.map import save_map

    result = save_map(args.run_folder, args.data, method=args.method, split=args.split,
                      seed=args.seed, thumbnails=args.thumbnails, out=args.out,
                      data_dir=args.data_dir)  # fmt: skip
    trust = result["trustworthiness"]
    trust = "n/a (too few points)" if trust is None else f"{trust:.4f}"
    print(f"{args.method}: {result['points']} points in {result['seconds']:.1f} s, "
          f"trustworthiness (k=10) {trust}")  # fmt: skip
    print(f"wrote {result['figure']}")
    print(f"wrote {result['coords']}")
    return 0
