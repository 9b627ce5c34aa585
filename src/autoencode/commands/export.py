"""A run's model as an ONNX file, for use without autoencode or torch (onnxruntime, in any language).

Three parts can be exported, each a graph of float32 tensors with a free batch dimension:

- ``autoencoder``: images ``(N, C, H, W)`` in [0, 1] → reconstructions, same shape, in [0, 1];
- ``encoder``: images → codings (the mean, for a variational model);
- ``decoder``: codings → images in [0, 1] (what ``generate`` does with random codings).

The exported file is checked before it is put in place: onnxruntime (when installed) runs it on
random inputs and its outputs must match torch's; the run's config rides along in the metadata.
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

PARTS = ("autoencoder", "encoder", "decoder")
NAMES = {  # part: (input name, output name)
    "autoencoder": ("images", "reconstructions"),
    "encoder": ("images", "codings"),
    "decoder": ("codings", "images"),
}
TOLERANCE = 1e-4  # largest |onnx - torch| accepted; float32 graphs agree to about 1e-6


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


def _onnx_program(part_module: nn.Module, example: torch.Tensor, names: tuple[str, str]):
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
                output_names=[names[1]],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                verbose=False,
            )
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def export_onnx(run: Run | str | Path, out: str | Path | None = None, part: str = "autoencoder",
                check_batch: int = 5) -> dict:  # fmt: skip
    """Write ``run``'s ``part`` to ``out`` as ONNX and return what was checked.

    Returns ``{"path", "part", "input", "output", "max_abs_difference"}`` (the difference is
    ``None`` when onnxruntime is not installed and only the ONNX checker ran). ``out`` defaults
    to RUN/export/PART.onnx.
    """
    if part not in PARTS:
        raise ConfigError(f"unknown {{parameter}} {part!r}: expected one of {', '.join(PARTS)}",
                          parameter="part")  # fmt: skip
    onnx = _require_onnx()
    run = load_run(run)
    out = out or run.folder.export_file(part)
    model = copy.deepcopy(run.model).to("cpu").eval()  # the run's own model stays where it is
    names = NAMES[part]
    module = _Part(model, part).eval()
    example = example_input(model, part, 2)
    try:
        program = _onnx_program(module, example, names)
    except Exception as e:  # the exporter raises many kinds; one line is what a user can act on
        raise AutoencodeError(f"{run.path}: the {part} could not be exported to ONNX ({e})") from e
    proto = program.model_proto
    metadata = {
        "autoencode.part": part,
        "autoencode.config": json.dumps(run.config.to_dict()),
        "autoencode.input": _describe(names[0], example),
    }
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    return _check_and_write(proto, module, part, out, check_batch, run.path)


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
