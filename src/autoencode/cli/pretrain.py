"""``autoencode pretrain``: does the autoencoder's encoder help a classifier that has few labels?"""

from __future__ import annotations

from autoencode.cli.options import (
    add_data_options,
    add_device_options,
    positive_float,
    positive_int,
)


def add_parser(sub) -> None:
    p = sub.add_parser("pretrain", help="train a classifier on few labels from the run's encoder",
                       description="Copy RUN's encoder layers into a classifier (+ dense softmax), "
                                   "train it on --labels labelled images (encoder frozen, then "
                                   "fine-tuned), and compare with the same classifier trained "
                                   "from scratch on the same images. Test accuracy of both goes "
                                   "to RUN/metrics.json.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--labels", type=positive_int, default=500, help="labelled images (default 500)")
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=50,
        help="epochs with the encoder frozen (default 50)",
    )
    p.add_argument("--fine-tune-epochs", type=positive_int, default=50,
                   help="epochs fine-tuning everything at lr / 10")  # fmt: skip
    p.add_argument(
        "--lr", type=positive_float, default=5e-3, help="Adam learning rate (default 5e-3)"
    )
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--seed", type=int, default=42)
    add_data_options(p)
    add_device_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.analysis.pretraining import pretrain
    from autoencode.runfolder import RunFolder

    result = pretrain(args.run_folder, args.data, args.labels, args.epochs, args.fine_tune_epochs,
                      args.lr, args.batch_size, args.seed, args.device, progress=True,
                      data_dir=args.data_dir)  # fmt: skip
    print(f"test accuracy with {args.labels} labels ({result['n_test']} test images):")
    print(f"  pretrained encoder, frozen       {result['pretrained_frozen']:.4f}")
    print(f"  pretrained encoder, fine-tuned   {result['pretrained_fine_tuned']:.4f}")
    print(f"  same classifier from scratch     {result['scratch']:.4f}")
    print(f"wrote {RunFolder(args.run_folder).metrics_file}")
    return 0
