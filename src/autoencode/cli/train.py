"""``autoencode train``: train a preset on a dataset into a run folder (or resume one)."""

from __future__ import annotations

import sys

from autoencode.cli.options import (
    add_data_options,
    add_device_options,
    key_value,
    positive_float,
    positive_int,
)  # fmt: skip


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train an autoencoder into a run folder",
                       description="Train an autoencoder; writes runs/<name>/ "
                                   "(config.json, model.safetensors, history.csv, metrics.json).")  # fmt: skip
    p.add_argument(
        "--preset", default="stacked", help="named configuration (see 'autoencode summary')"
    )
    p.add_argument("--epochs", type=positive_int)
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--lr", type=positive_float, help="learning rate")
    p.add_argument("--optimizer", help="sgd, rmsprop, adam or adamw")
    p.add_argument("--schedule", choices=("constant", "onecycle"),
                   help="the learning rate over the steps: constant, or onecycle (torch's "
                        "OneCycleLR: up to --lr over 30%% of the steps, then down)")  # fmt: skip
    p.add_argument("--precision", choices=("float32", "bf16"),
                   help="bf16: the forward pass under bfloat16 autocast (the weights, gradients "
                        "and loss stay float32); faster on GPUs and CPUs with bf16 units")  # fmt: skip
    p.add_argument("--seed", type=int)
    p.add_argument("--model", metavar="KEY=VALUE", type=key_value, action="append", default=[],
                   help="change a model setting, e.g. encoder_units=200,50 or activation=relu")  # fmt: skip
    p.add_argument("--train-size", type=positive_int, help="use only the first N training images")
    p.add_argument("--valid-size", type=positive_int, help="use only the first N validation images")
    add_data_options(p)
    add_device_options(p)
    p.add_argument(
        "--threads", type=positive_int, help="CPU threads (default: chosen for the model)"
    )
    p.add_argument("--out", help="run folder (default: runs/<preset>-<date>-<time>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument(
        "--resume", metavar="RUN", help="continue the run folder RUN from its last epoch"
    )
    p.add_argument("--greedy", action="store_true",
                   help="greedy layer-wise: one encoder/decoder layer pair at a time, the outer "
                        "ones frozen (dense models whose decoder mirrors the encoder)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    add_watching_options(p)
    p.set_defaults(run=run)


def add_watching_options(p) -> None:
    """Checkpoints inside epochs, and the trackers training reports to."""
    p.add_argument("--tensorboard", metavar="DIR",
                   help="write TensorBoard's event files to DIR: losses, learning rate, "
                        "reconstructions, hparams, the codings for its Projector "
                        "(needs the tensorboard package)")  # fmt: skip
    p.add_argument("--checkpoint-every", metavar="N|TIME",
                   help="also write the resumable checkpoint inside epochs: every N steps, or "
                        "every 30s / 10m / 1h (SIGTERM and SIGUSR1 always write one, then stop)")  # fmt: skip
    p.add_argument("--mlflow", metavar="URI",
                   help="record the run in the MLflow tracking store at URI (sqlite:///mlflow.db, "
                        "or a server's URL): settings, losses, the run folder as artifacts "
                        "(needs mlflow-skinny)")  # fmt: skip


def run(args) -> int:
    from autoencode.commands.train import default_run_path, resume, train, train_greedy
    from autoencode.training import distributed
    from autoencode.training.preemption import Preempted

    common = {"device": args.device, "threads": args.threads, "progress": not args.quiet,
              "data_dir": args.data_dir}  # fmt: skip
    common |= {"checkpoint_every": args.checkpoint_every} if args.checkpoint_every else {}
    out = args.resume or args.out or default_run_path(args.preset)
    if args.resume:
        check_resume_options(args)
    try:
        if args.resume:
            result = resume(args.resume, args.data, epochs=args.epochs, **common)
        else:
            fit = train_greedy if args.greedy else train
            logged = {k: getattr(args, k) for k in ("tensorboard", "mlflow") if getattr(args, k)}
            result = fit(args.preset, args.data or "fashion-mnist", out, model=dict(args.model),
                         overwrite=args.overwrite, train_size=args.train_size,
                         valid_size=args.valid_size, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                         schedule=args.schedule, precision=args.precision, seed=args.seed,
                         **logged, **common)  # fmt: skip
    except Preempted as stopped:  # every process stops at the same step; rank 0 says so
        if distributed.current().main:
            print(f"autoencode: {stopped}; {out} holds a checkpoint there {_go_on(out)}",
                  file=sys.stderr)  # fmt: skip
        return 143
    except KeyboardInterrupt:
        print(f"autoencode: interrupted; {out} holds the last finished epoch {_go_on(out)}",
              file=sys.stderr)  # fmt: skip
        return 130
    finally:
        world = distributed.current()
        distributed.leave()
    if world.main:
        last = result.history[-1]
        val = f", val_loss {last['val_loss']:.4f}" if "val_loss" in last else ""
        print(f"trained {last['epoch']} epochs: loss {last['loss']:.4f}{val}\nwrote {result.path}")
    return 0


def _go_on(out) -> str:
    return f"(continue with: autoencode train --resume {out})"


# What --resume cannot change: the run continues as it was configured.
NOT_WITH_RESUME = ("lr", "batch_size", "optimizer", "schedule", "precision", "seed",
                   "train_size", "valid_size", "model", "overwrite", "greedy", "out", "tensorboard",
                   "mlflow")  # fmt: skip


def check_resume_options(args) -> None:
    from autoencode.cli.main import UsageError

    given = [f"--{name.replace('_', '-')}" for name in NOT_WITH_RESUME if getattr(args, name)]
    if given:
        raise UsageError(f"train: --resume continues the run as it was configured; it does not "
                         f"take {', '.join(given)} (only --epochs, --data, --device, --threads)")  # fmt: skip
