"""``autoencode export``: a run's autoencoder, encoder or decoder as an ONNX file."""

from __future__ import annotations

from autoencode.cli.options import positive_int

PARTS = (
    "autoencoder",
    "encoder",
    "decoder",
    "scorer",
)  # autoencode.commands.export.PARTS, without importing torch


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write the model as ONNX, for use without autoencode",
                       description="Write RUN/export/PART.onnx: float32 in, float32 out, any batch "
                                   "size; checked against the model with onnxruntime when it is "
                                   "installed. Needs pip install 'autoencode[export]'.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--part", choices=PARTS, default="autoencoder",
                   help="autoencoder: images → reconstructions; encoder: images → codings; "
                        "decoder: codings → images (default autoencoder); scorer: uint8 images "
                        "→ codings, anomaly signals, score and flag")  # fmt: skip
    p.add_argument("--out", help="ONNX path (default RUN/export/PART.onnx)")
    p.add_argument("--by", default=None,
                   help="the scorer's rule: reconstruction, codings or both (default: the run's "
                        "last autoencode score, else both)")  # fmt: skip
    p.add_argument("-k", type=positive_int, default=None,
                   help="the scorer's nearest training codings (default: the last score's, "
                        "else 5)")  # fmt: skip
    p.add_argument("--fpr", type=float, default=None,
                   help="the scorer's threshold flags this share of the validation split "
                        "(default: the last score's, else 0.05)")  # fmt: skip
    p.add_argument("--data-dir", default=None, help="folder holding the Fashion-MNIST .gz files")
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.export import export_onnx

    done = export_onnx(args.run_folder, args.out, args.part, by=args.by, k=args.k, fpr=args.fpr,
                       data_dir=args.data_dir)  # fmt: skip
    checked = (
        "onnxruntime not installed: checked by the ONNX checker only"
        if done["max_abs_difference"] is None
        else f"onnxruntime matches the model to {done['max_abs_difference']:.1g}"
    )
    if done["part"] == "scorer":
        checked = checked.replace("the model", f"autoencode score on {done['checked_on']} "
                                               "validation images")  # fmt: skip
        print(f"score by {done['by']}, k {done['k']}; threshold {done['threshold']:.6g} at a "
              f"false-positive rate of {done['fpr']} on the validation split")  # fmt: skip
    print(f"wrote {done['path']}: {done['input']} → {done['output']}; {checked}")
    return 0
