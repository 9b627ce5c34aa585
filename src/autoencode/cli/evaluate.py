"""``autoencode evaluate``: the codings' report card, printed and saved in metrics.json."""

from __future__ import annotations

from autoencode.cli.options import add_data_options, non_negative_float


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score reconstructions and codings on the test split",
                       description="Reconstruction BCE, MSE and PSNR on the test split; k-NN (k=5) "
                                   "and linear-probe accuracy of the codings, of PCA with as many "
                                   "components, and of raw pixels; a variational run's negative "
                                   "log-likelihood. Saved in RUN/metrics.json.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--no-baselines", action="store_true", help="skip the PCA and pixel baselines")
    p.add_argument("--noise", type=non_negative_float, default=0.0,
                   help="also score reconstructions of the test images with Gaussian noise of "
                        "this standard deviation against the clean images")  # fmt: skip
    p.add_argument("--samples", type=int, default=5000,
                   help="generative runs: score this many samples against the test set "
                        "(Fréchet distance, precision/recall); 0 skips it (default 5000)")  # fmt: skip
    p.add_argument("--nll-samples", type=int, default=1000, metavar="K",
                   help="variational runs: the negative log-likelihood in nats per image, "
                        "importance-sampled with K draws per image, and the negative ELBO; "
                        "0 skips it (default 1000)")  # fmt: skip
    p.add_argument(
        "--split",
        choices=("test", "valid"),
        default="test",
        help="the held-out split to score (valid: for data without a test split)",
    )
    add_data_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.evaluate import evaluate
    from autoencode.runfolder import RunFolder

    card = evaluate(args.run_folder, args.data, baselines=not args.no_baselines,
                    noise=args.noise, samples=args.samples, data_dir=args.data_dir,
                    split=args.split, nll_samples=args.nll_samples)  # fmt: skip
    split = card["split"]
    print(f"{split} split ({card[f'n_{split}']} images): BCE {card['bce']:.4f}  "
          f"MSE {card['mse']:.4f}  PSNR {card['psnr']:.2f} dB")  # fmt: skip
    if nll := card.get("likelihood"):
        print(f"negative log-likelihood {nll['nll']:.2f} nats per image ({nll['samples']} "
              f"importance draws), negative ELBO {nll['negative_elbo']:.2f}")  # fmt: skip
    if noisy := card.get("noisy_inputs"):
        print(f"with noise σ {noisy['noise']:g} on the inputs, against the clean images: "
              f"MSE {noisy['mse']:.4f}  PSNR {noisy['psnr']:.2f} dB")  # fmt: skip
    if "codings" not in card:
        print("no labels: no k-NN or linear probe of the codings")
    else:
        print(f"{'features':<16}{'dims':>6}{'k-NN (k=5)':>12}{'linear probe':>14}")
    for name, scores in card.items():
        if isinstance(scores, dict) and "dims" in scores:
            print(
                f"{name:<16}{scores['dims']:>6}{scores['knn5']:>12.4f}{scores['linear_probe']:>14.4f}"
            )
    if scores := card.get("samples"):
        floor, net = scores["floor"], scores["classifier"]
        print(f"{scores['n']} samples against the test set: Fréchet distance "
              f"{scores['frechet_distance']:.2f}, precision {scores['precision']:.3f}, recall "
              f"{scores['recall']:.3f} (test against train: {floor['frechet_distance']:.2f}, "
              f"{floor['precision']:.3f}, {floor['recall']:.3f}; features of a classifier "
              f"with test accuracy {net['test_accuracy']:.4f}, sha256 {net['sha256'][:12]})")  # fmt: skip
    for name, trust in card["maps"].items():
        print(f"{name}: trustworthiness (k=10) {trust:.4f}")
    print(f"wrote {RunFolder(args.run_folder).metrics_file}")
    return 0
