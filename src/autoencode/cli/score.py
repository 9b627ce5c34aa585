"""``autoencode score``: an anomaly score per image, and a threshold at a false-positive rate."""

from __future__ import annotations

from autoencode.cli.options import positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("score", help="score how anomalous images are (reconstruction, codings)",
                       description="An anomaly score per image against the run's own data: its "
                                   "reconstruction error, the mean distance of its coding to the "
                                   "K nearest training codings, or both (each standardised on "
                                   "the validation split). Writes RUN/scores_<data>.csv and "
                                   "RUN/figures/anomalies_<data>.png (the most and least "
                                   "anomalous); --fpr sets a threshold on the validation split "
                                   "at that false-positive rate and flags what lies above it.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--data", default="test", metavar="SPLIT_OR_DATA",
                   help="what to score: test (default), train, valid, all, or a data file or "
                        "folder (all its images)")  # fmt: skip
    p.add_argument("--by", default="both", help="reconstruction, codings or both (default)")
    p.add_argument("--fpr", type=float, default=None,
                   help="flag images above the threshold that flags this share of the "
                        "validation split (for example 0.05)")  # fmt: skip
    p.add_argument("-k", type=positive_int, default=5,
                   help="training codings the codings score averages over (default 5)")  # fmt: skip
    p.add_argument("--show", type=positive_int, default=8,
                   help="images in each row of the figure (default 8)")  # fmt: skip
    p.add_argument("--out", help="CSV path (default RUN/scores_<data>.csv)")
    p.add_argument("--figure", help="PNG path (default RUN/figures/anomalies_<data>.png)")
    p.add_argument("--data-dir", default=None, help="folder holding the Fashion-MNIST .gz files")
    p.set_defaults(run=run)


def run(args) -> int:
    import numpy as np

    from autoencode.commands.score import save_scores

    result = save_scores(args.run_folder, args.data, by=args.by, fpr=args.fpr, k=args.k,
                         show=args.show, out=args.out, figure=args.figure,
                         data_dir=args.data_dir)  # fmt: skip
    scores = result["scores"]
    print(f"{result['images']} images of {result['data']} scored by {result['by']}: "
          f"median {float(np.median(scores)):.4g}, highest {float(scores.max()):.4g}")  # fmt: skip
    if "threshold" in result:
        print(f"threshold {result['threshold']:.4g} (false-positive rate {result['fpr']} on the "
              f"validation split; {result['valid_fpr']:.3f} measured there): "
              f"{result['flagged']} of {result['images']} flagged")  # fmt: skip
    print(f"wrote {result['csv']}")
    print(f"wrote {result['figure']}")
    return 0
