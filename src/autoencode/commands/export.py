"""A run's model as an ONNX file, for use without autoencode or torch (onnxruntime, in any language).

Four parts can be exported, each a graph with a free batch dimension:

- ``autoencoder``: float32 images ``(N, C, H, W)`` in [0, 1] → reconstructions, same shape;
- ``encoder``: images → codings (the mean, for a variational model);
- ``decoder``: codings → images in [0, 1] (what ``generate`` does with random codings);
- ``scorer``: uint8 images as they come, ``(N, H, W)`` or ``(N, H, W, C)``, → the codings, the
  reconstruction error, the distance to the k nearest training codings, the anomaly score of a
  rule and its flag at a threshold (``analysis.scoring``): the preprocessing, the training
  codings and the validation split's statistics are inside the graph, the threshold, its
  false-positive rate and the preprocessing in the metadata. No part of the score is left out.

The exported file is checked before it is put in place: onnxruntime (when installed) runs it and
its outputs must match the library's (for the scorer: ``Scorer``'s, which ``autoencode score``
writes, on the validation split's first images); the run's config rides along in the metadata.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from autoencode.errors import AutoencodeError, ConfigError
from autoencode.io import atomic_write
from autoencode.run import Run, load_run

PARTS = ("autoencoder", "encoder", "decoder", "scorer")
NAMES = {  # part: (input name, output name)
    "autoencoder": ("images", "reconstructions"),
    "encoder": ("images", "codings"),
    "decoder": ("codings", "images"),
}
TOLERANCE = 1e-4  # largest |onnx - torch| accepted; float32 graphs agree to about 1e-6
# Largest |onnx - Scorer| accepted in the scorer's signals and score. Measured on Fashion-MNIST:
# 4e-6 (stacked), 1e-6 (conv). The float32 encoders of onnxruntime and torch round apart by
# about 1e-6, which a score standardised by a small spread magnifies (a VAE trained one epoch on
# 64 images: 1.6e-5), so the check is the float32 graphs' own tolerance.
SCORE_TOLERANCE = TOLERANCE
SCORER_CHECK = 512  # validation images the scorer is checked on before it is written


class _Part(nn.Module):
    """One deterministic path through an autoencoder, as a plain tensor → tensor module."""

    def __init__(self, model: nn.Module, part: str):
        super().__init__()
        self.model, self.part = model, part

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.part == "encoder":
            return self.model.encode(x)
        if self.part == "decoder":
            return self.model.decode(x)
        return self.model.reconstruct(x)


def example_input(model: nn.Module, part: str, n: int, seed: int = 0) -> torch.Tensor:
    """Random inputs of the part's shape: images in [0, 1], or codings from N(0, I)."""
    generator = torch.Generator().manual_seed(seed)
    if part == "decoder":
        return torch.randn(n, *model.codings_shape, generator=generator)
    return torch.rand(n, *model.config.input_shape, generator=generator)


def _onnx_program(part_module: nn.Module, example: torch.Tensor, names: tuple[str, ...]):
    """Trace with torch's exporter, its progress prints and warnings kept off the user's screen."""
    quiet = io.StringIO()
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet):
            warnings.simplefilter("ignore")
            return torch.onnx.export(
                part_module,
                (example,),
                dynamo=True,
                input_names=[names[0]],
                output_names=list(names[1:]),
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                verbose=False,
            )
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def export_onnx(run: Run | str | Path, out: str | Path | None = None, part: str = "autoencoder",
                check_batch: int = 5, *, by: str | None = None, k: int | None = None,
                fpr: float | None = None, data_dir=None) -> dict:  # fmt: skip
    """Write ``run``'s ``part`` to ``out`` as ONNX and return what was checked.

    Returns ``{"path", "part", "input", "output", "max_abs_difference"}`` (the difference is
    ``None`` when onnxruntime is not installed and only the ONNX checker ran). ``out`` defaults
    to RUN/export/PART.onnx. The scorer's rule, ``k`` and ``fpr`` (its threshold's false-positive
    rate on the validation split) default to those of the run's last ``autoencode score``, else
    to both, 5 and 0.05; its result adds them, the threshold and the difference of each output.
    """
    if part not in PARTS:
        raise ConfigError(f"unknown {{parameter}} {part!r}: expected one of {', '.join(PARTS)}",
                          parameter="part")  # fmt: skip
    onnx = _require_onnx()
    run = load_run(run)
    out = out or run.folder.export_file(part)
    model = copy.deepcopy(run.model).to("cpu").eval()  # the run's own model stays where it is
    if part == "scorer":
        return _export_scorer(run, model, out, {"by": by, "k": k, "fpr": fpr}, data_dir)
    names = NAMES[part]
    module = _Part(model, part).eval()
    example = example_input(model, part, 2)
    try:
        program = _onnx_program(module, example, names)
    except Exception as e:  # the exporter raises many kinds; one line is what a user can act on
        raise AutoencodeError(f"{run.path}: the {part} could not be exported to ONNX ({e})") from e
    proto = _with_metadata(program.model_proto, run, part, _describe(names[0], example))
    onnx.checker.check_model(proto)
    return _check_and_write(proto, module, part, out, check_batch, run.path)


def _with_metadata(proto, run: Run, part: str, input_description: str, **more: str):
    metadata = {
        "autoencode.part": part,
        "autoencode.config": json.dumps(run.config.to_dict()),
        "autoencode.input": input_description,
        **{f"autoencode.{key}": value for key, value in more.items()},
    }
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    return proto


def _export_scorer(run: Run, model: nn.Module, out, asked: dict, data_dir) -> dict:
    """The scorer's graph, checked in onnxruntime against ``Scorer`` before it is written."""
    import onnx

    from autoencode.analysis.anomaly import fit_scorer
    from autoencode.analysis.scoring import OUTPUTS, ScoringModule, scorer_settings

    settings = scorer_settings(run.folder.read_metrics(), **asked)
    reference = run.load_dataset(data_dir)
    scorer = fit_scorer(run, reference, settings["k"])
    threshold = scorer.threshold(settings["fpr"], settings["by"])
    module = ScoringModule(model, scorer, settings["by"], threshold).eval()
    images = reference.valid.images[:SCORER_CHECK]
    layout = "N, " + ", ".join(str(s) for s in images.shape[1:])
    try:
        program = _onnx_program(module, torch.from_numpy(np.ascontiguousarray(images[:2])),
                                ("images", *OUTPUTS))  # fmt: skip
    except Exception as e:  # the exporter raises many kinds; one line is what a user can act on
        raise AutoencodeError(f"{run.path}: the scorer could not be exported to ONNX ({e})") from e
    proto = _scorer_metadata(program.model_proto, run, scorer, settings, threshold, layout,
                             reference.name)  # fmt: skip
    onnx.checker.check_model(proto)
    signals = scorer.signals(images)
    expected = {"reconstruction": signals["reconstruction"], "codings_distance": signals["codings"],
                "score": scorer.combine(signals, settings["by"])}  # fmt: skip
    difference = _check_scorer(proto.SerializeToString(), images, expected, run.encode(images),
                               threshold)  # fmt: skip
    if difference is not None and difference[0] > SCORE_TOLERANCE:
        raise AutoencodeError(f"{run.path}: the exported scorer's scores differ from autoencode "
                              f"score's by {difference[0]:.2g} (more than {SCORE_TOLERANCE:g}); "
                              "nothing written")  # fmt: skip
    path = atomic_write(out, lambda tmp: onnx.save_model(proto, str(tmp)))
    return {"path": str(path), "part": "scorer", "input": f"images uint8 ({layout})",
            "output": ", ".join(OUTPUTS), "max_abs_difference": difference and difference[0],
            "codings_difference": difference and difference[1], **settings,
            "threshold": threshold, "checked_on": len(images)}  # fmt: skip


def _scorer_metadata(proto, run: Run, scorer, settings: dict, threshold: float, layout: str,
                     data: str):  # fmt: skip
    valid = scorer.combine(scorer.valid, settings["by"])
    return _with_metadata(
        proto, run, "scorer", f"images uint8 ({layout})",
        preprocessing=f"uint8 ({layout}) as float32 / 255, to (N, C, H, W), in the graph",
        outputs="codings float32; reconstruction (mean squared error), codings_distance (mean "
                f"distance to the {settings['k']} nearest training codings), score float64; "
                "flagged bool (score > threshold)",
        rule=settings["by"], k=str(settings["k"]), threshold=repr(threshold),
        fpr=repr(settings["fpr"]), valid_fpr=repr(float((valid > threshold).mean())),
        training_codings=f"{len(scorer.train_codings)} of {data}'s training split",
    )  # fmt: skip


def _check_scorer(model: bytes, images: np.ndarray, expected: dict, codings: np.ndarray,
                  threshold: float) -> tuple[float, float] | None:  # fmt: skip
    """The largest |onnxruntime - Scorer| over the signals and the score, and over the codings
    (float32: to TOLERANCE, as the encoder's export); the flags must agree wherever the score is
    not within the tolerance of the threshold. None without onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"images": images}),
                   strict=True))  # fmt: skip
    difference = max(float(np.abs(got[name] - value).max()) for name, value in expected.items())
    codings_difference = float(np.abs(got["codings"] - codings).max())
    if codings_difference > TOLERANCE:
        raise AutoencodeError(f"the exported scorer's codings differ from the model's by "
                              f"{codings_difference:.2g} (more than {TOLERANCE:g})")  # fmt: skip
    clear = np.abs(expected["score"] - threshold) > SCORE_TOLERANCE
    if not np.array_equal(got["flagged"][clear], expected["score"][clear] > threshold):
        raise AutoencodeError("the exported scorer flags other images than the threshold does")
    return difference, codings_difference


def _check_and_write(proto, module: _Part, part: str, out, check_batch: int, where) -> dict:
    """Run the graph in onnxruntime against the model; write it only if they agree."""
    import onnx

    names = NAMES[part]
    model = module.model
    check = example_input(model, part, check_batch, seed=1)
    with torch.inference_mode():
        expected = module(check).numpy()
    difference = _run_onnxruntime(proto.SerializeToString(), names[0], check.numpy(), expected)
    if difference is not None and difference > TOLERANCE:
        raise AutoencodeError(
            f"{where}: the exported {part} differs from the model by {difference:.2g} "
            f"(more than {TOLERANCE:g}); nothing written"
        )
    path = atomic_write(out, lambda tmp: onnx.save_model(proto, str(tmp)))
    return {
        "path": str(path),
        "part": part,
        "input": _describe(names[0], check),
        "output": _describe(names[1], torch.from_numpy(expected)),
        "max_abs_difference": difference,
    }


def _require_onnx():
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch's exporter needs it)
    except ImportError:
        raise AutoencodeError(
            "export needs the optional packages onnx and onnxscript: pip install 'autoencode[export]'"
        ) from None
    return onnx


def _describe(name: str, example: torch.Tensor) -> str:
    return f"{name} float32 (N, {', '.join(str(s) for s in example.shape[1:])})"


def _run_onnxruntime(model: bytes, input_name: str, x: np.ndarray, expected: np.ndarray):
    """Largest |onnxruntime - torch| on ``x``, or None without onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {input_name: x})
    if got.shape != expected.shape:
        raise AutoencodeError(f"the exported graph gives shape {got.shape}, not {expected.shape}")
    return float(np.abs(got - expected).max())
