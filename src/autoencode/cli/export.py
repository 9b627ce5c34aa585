"""``autoencode export``: a run's autoencoder, encoder or decoder as an ONNX file."""

from __future__ import annotations

PARTS = (
    "autoencoder",
    "encoder",
    "decoder",
)  # autoencode.commands.export.PARTS, without importing torch


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write the model as ONNX, for use without autoencode",
                       description="Write RUN/export/PART.onnx: float32 in, float32 out, any batch "
                                   "size; checked against the model with onnxruntime when it is "
                                   "installed. Needs pip install 'autoencode[export]'.")  # fmt: skip
    p.add_argument("run_folder", metavar="RUN")
    p.add_argument("--part", choices=PARTS, default="autoencoder",
                   help="autoencoder: images → reconstructions; encoder: images → codings; "
                        "decoder: codings → images (default autoencoder)")  # fmt: skip
    p.add_argument("--out", help="ONNX path (default RUN/export/PART.onnx)")
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.commands.export import export_onnx

    done = export_onnx(args.run_folder, args.out, args.part)
    checked = (
        "onnxruntime not installed: checked by the ONNX checker only"
        if done["max_abs_difference"] is None
        else f"onnxruntime matches the model to {done['max_abs_difference']:.1g}"
    )
    print(f"wrote {done['path']}: {done['input']} → {done['output']}; {checked}")
    return 0
