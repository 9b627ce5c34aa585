import json

import pytest

from autoencode.api import train
from autoencode.errors import RunFolderError
from autoencode.io import atomic_write, write_text
from autoencode.run import load_run


@pytest.fixture
def run_dir(tiny_data, tmp_path):
    train("stacked", tiny_data, tmp_path / "run", epochs=1, progress=False)
    return tmp_path / "run"


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
    (lambda d: _edit_config(d, encoder_units=[50, 30]), "model.safetensors: does not fit config.json"),
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
