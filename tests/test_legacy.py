"""Run folders of the kinds ``stacked``, ``conv`` and ``vae`` (format 2, the code before issue 19
made every model a composition of parts) load, reconstruct, evaluate and resume as they did.

``fixtures/legacy_runs.json`` was recorded by that code (``python tests/test_legacy.py
--record`` on commit de08031 with this file): each folder's text files and the names, shapes and
dtypes of its tensors, and what the old code computed from it. No weights are kept in the
repository: the tests write each tensor again from a seed of its name, so the folder is the same,
byte for byte, on every machine. Outputs are float32 and compared to 1e-6, absolute or
relative (the seed's conv layers round differently by instruction set at about 1e-6 relative).
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

import autoencode as ae
from autoencode.data.types import Dataset, Split
from conftest import synthetic_images

RECORDED = Path(__file__).parent / "fixtures" / "legacy_runs.json"
KINDS = ("stacked", "conv", "vae")
TEXT_FILES = ("config.json", "history.csv", "metrics.json")
TENSOR_FILES = ("model.safetensors", "checkpoint/last.safetensors")
TOLERANCE = 1e-6


def legacy_data() -> Dataset:
    """12×12 synthetic images (numpy's generator: the same on every machine)."""
    images, labels = synthetic_images(96, seed=3, size=12)
    return Dataset("tiny", Split(images[32:], labels[32:]), Split(images[:32], labels[:32]),
                   Split(images[:16], labels[:16]), ("a", "b", "c", "d"))  # fmt: skip


def tensor_from_name(name: str, dtype: str, shape: list[int], value=None) -> torch.Tensor:
    """A tensor written again from its name alone: a generator's state for ``rng.*``, the
    recorded value for a scalar, else uniform values (non-negative for optimizer averages)."""
    seed = zlib.crc32(name.removeprefix("model.").encode())
    generator = torch.Generator().manual_seed(seed)
    if name.startswith("rng."):
        return generator.get_state()
    if value is not None:
        return torch.tensor(value, dtype=getattr(torch, dtype))
    if name.startswith("optimizer."):
        return torch.empty(shape).uniform_(0.0, 1e-3, generator=generator)
    return torch.empty(shape).uniform_(-0.1, 0.1, generator=generator)


def write_legacy_run(folder: Path, kind: str, checkpoint: bool = True) -> Path:
    """The recorded folder of ``kind``, written again (without its checkpoint if asked)."""
    from safetensors.torch import save_file

    recorded = json.loads(RECORDED.read_text())[kind]
    for name in TEXT_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(recorded["files"][name])
    for name in TENSOR_FILES if checkpoint else TENSOR_FILES[:1]:
        spec = recorded["tensors"][name]
        tensors = {n: tensor_from_name(n, *t) for n, t in spec["tensors"].items()}
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(folder / name), metadata=spec["metadata"])
    return folder


def outputs(folder: Path, checkpoint: bool) -> dict:
    """What a run folder gives: its reconstructions and codings of the first validation images,
    samples (a generative run), the evaluation card, and two epochs more (with a checkpoint)."""
    data = legacy_data()
    run = ae.load_run(folder)
    images = data.valid.images[:6]
    out = {
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "reconstruction": run.reconstruct(images).ravel().tolist(),
        "codings": run.encode(images).ravel().tolist(),
        # the run's own scores; the PCA and pixel baselines are not the run's (and a logistic
        # regression on 48 images converges to other weights on another CPU)
        "evaluation": ae.evaluate(
            run, data, baselines=False, samples=0, nll_samples=0, record=False
        ),
    }
    if run.model.generative:
        out["samples"] = run.sample(3, seed=0).ravel().tolist()
    if checkpoint:
        resumed = ae.resume(folder, data, epochs=3, progress=False, device="cpu")
        out["resumed"] = [{k: v for k, v in row.items() if k != "seconds"}
                          for row in resumed.history]  # fmt: skip
    return out


BASELINES = ("pca64", "pca10", "pca30", "pixels")  # evaluate's baselines, by the codings' size


def numbers(value, path: str = "") -> dict[str, float]:
    """Every number inside nested dicts and lists, by its path."""
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in numbers(item, f"{path}.{key}").items()
        }
    if isinstance(value, list):
        return {
            k: v for i, item in enumerate(value) for k, v in numbers(item, f"{path}[{i}]").items()
        }
    return {path: value}


@pytest.mark.parametrize("checkpoint", [True, False], ids=["checkpoint", "weights-only"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_legacy_run_folder_gives_what_it_gave(kind, checkpoint, tmp_path):
    recorded = json.loads(RECORDED.read_text())[kind]["outputs"]
    got = numbers(outputs(write_legacy_run(tmp_path / kind, kind, checkpoint), checkpoint))
    recorded["evaluation"] = {k: v for k, v in recorded["evaluation"].items()
                              if k not in BASELINES}  # fmt: skip
    want = numbers({k: v for k, v in recorded.items() if checkpoint or k != "resumed"})
    assert sorted(got) == sorted(want)
    wrong = {k: (got[k], v) for k, v in want.items()
             if not (got[k] == v if isinstance(v, (str, bool)) or v is None
                     else np.isclose(got[k], v, rtol=TOLERANCE, atol=TOLERANCE))}  # fmt: skip
    assert wrong == {}


def record() -> dict:
    """The folders the code of today writes, with its tensors replaced by ones from their names,
    and its outputs from them."""
    import tempfile

    from safetensors import safe_open

    fixtures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in KINDS:
            trained = Path(tmp) / "trained" / kind
            ae.train(kind, legacy_data(), trained, epochs=1, batch_size=16, progress=False)
            entry = {"files": {n: (trained / n).read_text() for n in TEXT_FILES}, "tensors": {}}
            for name in TENSOR_FILES:
                with safe_open(str(trained / name), "pt") as f:
                    entry["tensors"][name] = {
                        "metadata": f.metadata(),
                        "tensors": {n: [str(f.get_tensor(n).dtype).removeprefix("torch."),
                                        list(f.get_tensor(n).shape),
                                        f.get_tensor(n).item() if f.get_tensor(n).ndim == 0 else None]
                                    for n in f.keys()},  # noqa: SIM118
                    }  # fmt: skip
            fixtures[kind] = entry
        RECORDED.write_text(json.dumps(fixtures, indent=1) + "\n")
        for kind in KINDS:
            folder = write_legacy_run(Path(tmp) / "written" / kind, kind)
            fixtures[kind]["outputs"] = outputs(folder, checkpoint=True)
    RECORDED.write_text(json.dumps(fixtures, indent=1) + "\n")
    return fixtures


if __name__ == "__main__" and "--record" in sys.argv:
    record()


@pytest.mark.parametrize("kind", KINDS)
def test_an_older_kind_is_its_seed_preset(kind):
    from autoencode.models import config_from_dict

    assert config_from_dict({"kind": kind, "input_shape": [1, 28, 28]}) == ae.get_preset(kind).model


def test_older_settings_are_aliases_of_part_settings():
    from autoencode.models import config_from_dict

    vae = config_from_dict({"kind": "vae", "hidden": [200, 50], "codings": 4, "kl_weight": 2.0,
                            "activation": "relu"})  # fmt: skip
    assert (vae.encoder.units, vae.decoder.units) == ((200, 50), (50, 200))
    assert (vae.objective.codings, vae.objective.beta) == (4, 2.0)
    assert vae.encoder.activation == vae.decoder.activation == "relu"
    conv = config_from_dict({"kind": "conv", "filters": [8, 16], "kernel_size": 5})
    assert (
        conv.encoder.filters == (8, 16)
        and conv.encoder.kernel_size == conv.decoder.kernel_size == 5
    )
    for order in (["activation", "decoder_activation"], ["decoder_activation", "activation"]):
        values = {"activation": "relu", "decoder_activation": "selu"}
        stacked = config_from_dict({"kind": "stacked", **{k: values[k] for k in order}})
        assert (stacked.encoder.activation, stacked.decoder.activation) == ("relu", "selu")
    plain = config_from_dict({"kind": "stacked", "activation": "relu"})
    assert plain.decoder.activation == "linear"  # the stacked kind's decoder kept its own


def test_an_older_setting_changes_a_preset(tmp_path):
    run = ae.train("vae", legacy_data(), tmp_path / "r", model={"hidden": (32, 16)}, epochs=1,
                   progress=False)  # fmt: skip
    assert run.config.model.encoder.units == (32, 16) and run.config.model.decoder.units == (16, 32)
    with pytest.raises(ae.ConfigError, match=r"'nowhere\.x' names no setting of the model"):
        ae.train("vae", legacy_data(), tmp_path / "s", model={"nowhere.x": 1}, progress=False)


def test_activation_leaves_the_decoder_of_the_stacked_kind_alone():
    from autoencode.commands.train import resolve

    def activations(preset):
        model, _ = resolve(preset, {"activation": "relu"}, None, {}, (1, 28, 28))
        return model.encoder.activation, model.decoder.activation

    assert activations("stacked") == ("relu", "linear")
    assert activations("stacked-fast") == ("relu", "selu")  # its decoder_activation, kept
    assert activations("vae-fast") == activations("conv") == ("relu", "relu")


def test_an_error_in_an_older_setting_names_it():
    from autoencode.models import config_from_dict

    with pytest.raises(ae.ConfigError, match=r"encoder_units is encoder\.units"):
        config_from_dict({"kind": "stacked", "encoder_units": "ab"})
    with pytest.raises(ae.ConfigError, match=r"kl_weight is objective\.beta"):
        ae.train("stacked", legacy_data(), progress=False, model={"kl_weight": 2.0})


def test_an_older_vae_with_frozen_layers_resumes_and_its_weights_load(tmp_path):
    folder = write_legacy_run(tmp_path / "vae", "vae")
    config = json.loads((folder / "config.json").read_text())
    config["training"]["freeze"] = ["mean"]
    (folder / "config.json").write_text(json.dumps(config))
    before = ae.load_run(folder).model.state_dict()
    after = ae.resume(folder, legacy_data(), epochs=2, progress=False).model.state_dict()
    assert torch.equal(before["head.mean.weight"], after["head.mean.weight"])
    assert not torch.equal(before["head.log_var.weight"], after["head.log_var.weight"])
    weights = {
        k.replace("head.", "", 1): v for k, v in before.items()
    }  # as an older VAE named them
    run = ae.train("vae", legacy_data(), tmp_path / "w", weights=weights, epochs=1, lr=1e-12,
                   progress=False)  # fmt: skip
    assert torch.allclose(run.model.head.mean.weight, before["head.mean.weight"], atol=1e-9)
