import json
from pathlib import Path

import numpy as np
import pytest
import torch

from autoencode.commands.train import train
from autoencode.data.datasets import load_dataset
from autoencode.errors import RunFolderError
from autoencode.io import atomic_write, write_text
from autoencode.run import load_run


@pytest.fixture
def run_dir(tiny_run):
    return tiny_run("stacked")


def test_load_run_rebuilds_from_the_folder(run_dir, tiny_data):
    run = load_run(run_dir)
    assert run.config.preset == "stacked" and len(run.history) == 1
    assert run.reconstruct(tiny_data.valid.images[:3]).shape == (3, 28, 28)


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "model.safetensors").unlink(), "model.safetensors: missing"),
    (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:1000]),
     "model.safetensors: not a valid safetensors file"),
    (lambda d: (d / "config.json").unlink(), "config.json: missing"),
    (lambda d: (d / "config.json").write_text("{ not json"), "config.json: not readable JSON"),
    (lambda d: (d / "config.json").write_text('{"format": "other"}'), "not an autoencode run config"),
    (lambda d: _edit_config(d, encoder={"kind": "dense", "units": [50, 30]}),
     "model.safetensors: does not fit config.json"),
    (lambda d: _edit_config(d, kind="nope"), "unknown model kind 'nope'"),
])  # fmt: skip
def test_damaged_run_folders_are_refused(run_dir, damage, message):
    damage(run_dir)
    with pytest.raises(RunFolderError, match=message):
        load_run(run_dir)


def _edit_config(folder, **model):
    config = json.loads((folder / "config.json").read_text())
    config["model"].update(model)
    (folder / "config.json").write_text(json.dumps(config))


def test_not_a_folder(tmp_path):
    with pytest.raises(RunFolderError, match="not a run folder"):
        load_run(tmp_path / "nowhere")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = write_text(tmp_path / "f.txt", "old")

    def fail(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_existing_run_folder_is_not_overwritten_by_accident(run_dir, tiny_data):
    with pytest.raises(RunFolderError, match="run folder exists; continue it with resume"):
        train("stacked", tiny_data, run_dir, epochs=1, progress=False)
    assert load_run(run_dir).history


def test_a_file_named_like_a_builtin_dataset_is_that_file(tmp_path, capsys):
    from autoencode.cli.main import main
    from conftest import synthetic_images

    images, labels = synthetic_images(48, seed=7, size=16)  # not Fashion-MNIST's 28×28
    data = tmp_path / "fashion-mnist.npz"
    np.savez(data, x_train=images, y_train=labels)
    assert main(["train", "--data", str(data), "--epochs", "1", "--out", str(tmp_path / "r"),
                 "--quiet"]) == 0  # fmt: skip
    run = load_run(tmp_path / "r")
    assert (run.config.data.kind, run.config.data.location) == ("file", str(data.resolve()))
    again = run.load_dataset()
    assert again.source == str(data.resolve()) and again.image_shape == (1, 16, 16)
    assert np.array_equal(again.valid.images, load_dataset(str(data)).valid.images)
    assert main(["reconstruct", str(tmp_path / "r")]) == 0, capsys.readouterr().err


def test_a_run_from_another_device_loads_evaluates_and_pretrains_here(run_dir, tiny_data):
    """A run trained on CUDA records its device and the CUDA generator's state; here (CPU) it
    loads, evaluates, pretrains and resumes all the same."""
    import autoencode as ae
    from autoencode.analysis import pretraining as ae_pretraining
    from autoencode.io import load_tensors, save_tensors

    config = json.loads((run_dir / "config.json").read_text())
    config["runtime"]["device"] = "cuda:0"
    (run_dir / "config.json").write_text(json.dumps(config))
    checkpoint = run_dir / "checkpoint" / "last.safetensors"
    tensors, meta = load_tensors(checkpoint)
    save_tensors(checkpoint, {**tensors, "rng.cuda": torch.zeros(16, dtype=torch.uint8)}, meta)

    run = load_run(run_dir, device="cpu")
    assert run.device.type == "cpu"
    assert ae.evaluate(run, tiny_data, baselines=False)["n_test"] == 16
    settings = ae_pretraining.SweepSettings(max_epochs=1)
    result = ae.pretrain(run, tiny_data, labels=[8], seeds=1, modes=("finetune",),
                         settings=settings, device="cpu")  # fmt: skip
    assert 0 <= result["8"]["modes"]["finetune"]["mean"] <= 1
    assert len(ae.resume(run_dir, tiny_data, epochs=2, device="cpu", progress=False).history) == 2


def test_a_classifier_is_built_where_its_encoder_is():
    """Pretraining probes the encoder on the encoder's own device (a CUDA run's, say), never on
    the CPU: here the meta device stands in for a GPU."""
    from autoencode.models import build_model
    from autoencode.models.classifier import Classifier
    from autoencode.presets import PRESETS

    for name in ("stacked", "conv", "vae"):
        model = build_model(PRESETS[name].model, device="meta")
        classifier = Classifier.from_autoencoder(model, 10)
        assert {p.device.type for p in classifier.parameters()} == {"meta"}


def test_a_run_folder_of_the_first_format_loads(run_dir, tiny_npz, capsys):
    """Run folders written before the RunFolder format (/1): data by name or path, flat metrics."""
    import autoencode as ae

    config = json.loads((run_dir / "config.json").read_text())
    config["format"] = "autoencode-run/1"
    config["data"] = {"dataset": str(Path(tiny_npz).resolve()), "source": str(Path(tiny_npz).resolve()),
                      "train_size": 64, "valid_size": 32}  # fmt: skip
    (run_dir / "config.json").write_text(json.dumps(config))
    flat = {"epochs": 1, "loss": 0.5, "val_loss": 0.4,
            "map_tsne_valid": {"trustworthiness": 0.9, "seconds": 1.0},
            "pretraining_500": {"scratch": 0.7}}  # fmt: skip
    (run_dir / "metrics.json").write_text(json.dumps(flat))
    run = load_run(run_dir)
    assert run.config.data == ae.DataRef("file", str(Path(tiny_npz).resolve()), 64, 32)
    assert run.folder.read_metrics() == {
        "training": {"epochs": 1, "loss": 0.5, "val_loss": 0.4},
        "maps": {"tsne_valid": {"trustworthiness": 0.9, "seconds": 1.0}},
        "pretraining": {"500": {"scratch": 0.7}},
    }
    assert ae.evaluate(run, baselines=False)["maps"] == {"tsne_valid": 0.9}
    for name in ("builtin", "memory"):
        old = {"dataset": {"builtin": "fashion-mnist", "memory": ""}[name]}
        assert ae.DataRef.from_dict(old).kind == name


def test_a_run_on_arrays_from_python_asks_for_its_data(tiny_data, tmp_path):
    import autoencode as ae
    from autoencode.errors import DataError

    run_dir = train("stacked", tiny_data, tmp_path / "run", epochs=1, progress=False).path
    with pytest.raises(
        DataError, match=r"trained on arrays given in Python.*pass the dataset \(data\)"
    ):
        ae.evaluate(run_dir)


def test_a_model_config_is_checked_whole_once_and_counted_after(run_dir, tmp_path, monkeypatch):
    """The meta pass that checks a config's activations is remembered for that very config,
    under those limits; with other limits it is checked (and refused) again."""
    import autoencode.models.base
    from autoencode.runfolder import _checked

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []
    real = autoencode.models.base.check_cost
    monkeypatch.setattr("autoencode.models.autoencoder.check_cost",
                        lambda *a, **k: calls.append(k) or real(*a, **k))  # fmt: skip
    first = load_run(run_dir)
    assert _checked(first.config.model).is_file()
    second = load_run(run_dir)
    assert calls == [{"forward": True}, {"forward": False}]
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        assert torch.equal(a, b)
    monkeypatch.setattr(autoencode.models.base, "MAX_ACTIVATIONS", 10)
    with pytest.raises(RunFolderError, match="values per image"):
        load_run(run_dir)
