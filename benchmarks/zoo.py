"""Every preset on Fashion-MNIST under one stated budget, in one table: a thin call of
``autoencode zoo`` (``ae.zoo``).

Budget: each preset's own epochs (the seed's: stacked 10, conv 5, vae 50; the family: 10 for the
dense ones, 50 for beta-vae, 30 for conv-vae), seed 42, on this machine's CPU cores; or
``--minutes M`` for the whole call. For each: parameters, seconds per epoch (median), the last
epoch's validation loss terms, the report card on the test split (BCE / MSE / PSNR; k-NN and
linear probe on the codings), the reconstructions of noisy test images (σ 0.2) against the clean
ones, the codings' mean activation, and for generative presets the Fréchet distance and
precision / recall of 5,000 samples against the test set in a cached Fashion-MNIST
classifier's features (the floor: test against train). Writes benchmarks/results/zoo.json and
prints the table as Markdown.

    python benchmarks/zoo.py                     # every preset (about 15 minutes on 2 cores)
    python benchmarks/zoo.py --presets stacked denoising --epochs 2    # a quick look
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    import autoencode as ae
    from autoencode.commands.zoo import sample_cell, zoo_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(ae.PRESETS))
    parser.add_argument(
        "--epochs", type=int, help="the same epochs for every preset (a quick look)"
    )
    parser.add_argument("--minutes", type=float, help="a time budget for the whole call instead")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "zoo.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = ae.zoo("fashion-mnist", Path(tmp) / "zoo", presets=args.presets,
                        epochs=args.epochs, minutes=args.minutes, overwrite=True)  # fmt: skip
    report["epochs_override"] = args.epochs
    report.pop("compare", None)  # it was in the temporary folder
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(zoo_table(report["rows"]))
    if floor := next((r["samples"] for r in report["rows"] if r["samples"]), None):
        net = floor["classifier"]
        print(f"floor (test against train): {sample_cell(floor['floor'])}; classifier test "
              f"accuracy {net['test_accuracy']:.4f}, sha256 {net['sha256'][:12]}")  # fmt: skip
    print(f"wall time {report['wall_s'] / 60:.1f} min; wrote {args.out}")


if __name__ == "__main__":
    main()
