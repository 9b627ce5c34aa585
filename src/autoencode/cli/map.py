"""``autoencode map``: a 2-D map (t-SNE, UMAP or PCA) of a split's codings, coloured by class."""

from __future__ import annotations

from autoencode.cli.options import add_data_options


def add_parser(sub) -> None:
    p = sub.add_parser("map", help="draw a 2-D map of the codings (t-SNE, UMAP, PCA)",
                       description="Write RUN/figures/map_<method>.png and the 2-D coordinates "
                                   "beside it (map_<method>.npy); prints the map's "
                                   "trustworthiness (k = 10).")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--method", default="tsne", help="tsne (openTSNE), umap (optional extra) or pca")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test", "all"])
    p.add_argument("--thumbnails", action="store_true", help="draw images at spread-out points")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", help="PNG path (default RUN/figures/map_<method>.png)")
    add_data_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from pathlib import Path

    from autoencode.analysis.embedding import check_map_method
    from autoencode.analysis.evaluation import codings_map, split_of
    from autoencode.cli.reconstruct import run_and_data
    from autoencode.figures import map_figure, save_figure
    from autoencode.training.checkpoint import write_npy
    from autoencode.training.runfolder import update_metrics

    check_map_method(args.method)  # before any work
    run_, data = run_and_data(args)
    split = split_of(data, args.split)
    result = codings_map(run_, split, args.method, args.seed)
    png = Path(args.out or run_.figures / f"map_{args.method}.png")
    title = f"{args.method} map of the {args.split} codings ({run_.config.get('preset') or run_.config['model']['kind']})"
    figure = map_figure(result["coords"], split.labels, data.class_names,
                        split.images if args.thumbnails else None, title)  # fmt: skip
    save_figure(figure, png)

    coords = write_npy(png.with_suffix(".npy"), result["coords"])
    key = f"map_{args.method}_{args.split}"
    update_metrics(
        run_.path,
        {key: {"trustworthiness": result["trustworthiness"], "seconds": result["seconds"]}},
    )
    trust = result["trustworthiness"]
    trust = "n/a (too few points)" if trust is None else f"{trust:.4f}"
    print(
        f"{args.method}: {len(split)} points in {result['seconds']:.1f} s, trustworthiness (k=10) {trust}"
    )
    print(f"wrote {png}")
    print(f"wrote {coords}")
    return 0
