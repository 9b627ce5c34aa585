"""``autoencode fit-sampler``: a density on a run's codings, so that any run generates."""

from __future__ import annotations

from autoencode.cli.options import add_data_options, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("fit-sampler", help="fit a sampler on a run's codings (any run generates)",
                       description="Fit a density on the codings of the run's training split, "
                                   "chosen on its validation split, and save it as "
                                   "RUN/samplers/NAME.safetensors; then generate, evaluate, "
                                   "interpolate and explore draw from it (--sampler NAME).")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--sampler", default="gmm", choices=("gmm", "flow", "codes"),
                   help="gmm: a Gaussian mixture, full covariances (default); flow: a masked "
                        "autoregressive flow (needs zuko: pip install 'autoencode[flow]'); "
                        "codes: an autoregressive prior over a VQ model's code grid")  # fmt: skip
    p.add_argument(
        "--components",
        type=positive_int,
        default=None,
        help="gmm: this many Gaussians (default: chosen on the validation likelihood)",
    )
    p.add_argument("--name", default=None, help="save it under this name (default: the kind)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same sampler")
    add_data_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.fit_sampler import fit_sampler

    fit = fit_sampler(args.run_folder, args.sampler, name=args.name, components=args.components,
                      data=args.data, seed=args.seed, data_dir=args.data_dir)  # fmt: skip
    chosen = f", {fit['components']} components" if "components" in fit else ""
    epochs = f", {fit['epochs']} epochs" if "epochs" in fit else ""
    print(f"{fit['name']}: {fit['kind']}{chosen}{epochs}; validation log-likelihood "
          f"{fit['valid_log_likelihood']:.2f} nats per image; {fit['seconds']:.1f} s")  # fmt: skip
    print(f"wrote {fit['file']}")
    return 0
