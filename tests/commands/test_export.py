"""ONNX export: every part of every preset runs in onnxruntime and gives the model's own outputs."""

import json
import sys

import numpy as np
import pytest

from autoencode.commands.export import PARTS, export_onnx
from autoencode.errors import AutoencodeError
from autoencode.presets import PRESETS
from autoencode.run import load_run

onnx = pytest.importorskip("onnx", reason="export needs the [export] extra (part of [dev])")
onnxruntime = pytest.importorskip("onnxruntime", reason="part of the [dev] extra")


@pytest.fixture(scope="module", params=sorted(PRESETS))
def run(request, tiny_run):
    return load_run(tiny_run(request.param))


def session(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("part", PARTS)
def test_exported_part_matches_the_run(run, part, tmp_path):
    from conftest import synthetic_images

    done = export_onnx(run, tmp_path / f"{part}.onnx", part)
    assert done["max_abs_difference"] is not None and done["max_abs_difference"] < 1e-5
    images, _ = synthetic_images(7, seed=3)  # a batch size the export never saw
    floats = (images / 255).astype(np.float32)[:, None]
    codings = run.encode(images)
    feed, expected = {
        "autoencoder": (floats, run.reconstruct(images)[:, None]),
        "encoder": (floats, codings),
        "decoder": (codings, run.reconstruct(images)[:, None]),
    }[part]
    (got,) = session(done["path"]).run(None, {session(done["path"]).get_inputs()[0].name: feed})
    np.testing.assert_allclose(got, expected, atol=1e-5)
    meta = {p.key: p.value for p in onnx.load(done["path"]).metadata_props}
    assert meta["autoencode.part"] == part
    assert json.loads(meta["autoencode.config"])["model"] == json.loads(
        json.dumps(run.config.model.to_dict())
    )


def test_a_mismatch_writes_nothing(run, tmp_path, monkeypatch):
    import autoencode.commands.export

    monkeypatch.setattr(autoencode.commands.export, "TOLERANCE", -1.0)
    with pytest.raises(AutoencodeError, match="differs from the model"):
        export_onnx(run, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_without_onnx_says_what_to_install(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(AutoencodeError, match=r"pip install 'autoencode\[export\]'"):
        export_onnx(run, tmp_path / "m.onnx")


def test_the_cli_offers_every_part():
    from autoencode.cli import export as cli_export

    assert cli_export.PARTS == PARTS
