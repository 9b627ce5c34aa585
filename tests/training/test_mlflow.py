"""``train --mlflow URI`` / ``ae.MLflowLogger``: the run read back from a SQLite tracking store
with MLflow's own client."""

import subprocess
import sys

import numpy as np
import pytest

import autoencode as ae
from autoencode.cli.main import main
from autoencode.typed import dotted

pytest.importorskip("mlflow", reason="mlflow-skinny ([dev] or [mlflow] extra)")
pytest.importorskip("sqlalchemy", reason="a sqlite:/// store needs SQLAlchemy")


def only_run(uri: str, experiment: str = "autoencode"):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    runs = client.search_runs([found.experiment_id])
    assert len(runs) == 1
    return client, runs[0]


@pytest.mark.parametrize("preset", ["stacked", "vae"])
def test_the_store_holds_the_history_the_settings_and_the_run_folder(preset, tiny_npz, tmp_path,
                                                                     capsys):  # fmt: skip
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = ["train", "--preset", preset, "--data", tiny_npz, "--epochs", "3", "--batch-size", "16",
            "--lr", "0.001", "--out", str(tmp_path / "run"), "--mlflow", uri, "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    run = ae.load_run(tmp_path / "run")
    client, logged = only_run(uri)
    assert logged.info.status == "FINISHED" and logged.info.run_name == "run"
    for column in run.history[0]:
        if column != "epoch":
            history = client.get_metric_history(logged.info.run_id, column)
            assert [m.step for m in history] == [1, 2, 3]
            np.testing.assert_allclose([m.value for m in history],
                                       [row[column] for row in run.history], rtol=1e-6)  # fmt: skip
    assert len(client.get_metric_history(logged.info.run_id, "lr")) == 3
    params = logged.data.params
    assert params["training.lr"] == "0.001" and params["training.epochs"] == "3"
    assert params["training.batch_size"] == "16"
    model = dotted(run.config.model.to_dict(), "model")
    assert {k: params[k] for k in model} == {k: str(v) for k, v in model.items()}
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"config.json", "history.csv", "model.safetensors"} <= artifacts
    assert (tmp_path / "mlartifacts").is_dir()  # beside the database, not in the working folder
    assert logged.data.tags["autoencode.run_folder"] == str((tmp_path / "run").resolve())


def test_the_running_loss_every_few_steps_and_a_failed_run(tiny_data, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = ae.MLflowLogger(uri, "steps", every=2)
    run = ae.train("stacked", tiny_data, tmp_path / "run", epochs=2, batch_size=16,
                   callbacks=[logger], progress=False)  # fmt: skip
    client, logged = only_run(uri, "steps")
    steps = client.get_metric_history(logged.info.run_id, "step/loss")
    assert [m.step for m in steps] == [2, 4, 6, 8]  # 64 images in batches of 16: 4 steps an epoch
    assert steps[-1].value == pytest.approx(run.history[-1]["loss"], rel=1e-6)

    class Boom(ae.Callback):
        def on_epoch_end(self, trainer, row):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        ae.train("stacked", tiny_data, tmp_path / "failed", epochs=2, batch_size=16, progress=False,
                 callbacks=[ae.MLflowLogger(uri, "failed"), Boom()])  # fmt: skip
    client, failed = only_run(uri, "failed")
    assert failed.info.status == "FAILED"
    assert len(client.get_metric_history(failed.info.run_id, "loss")) == 1


def test_mlflow_is_imported_only_when_asked():
    code = ("import sys, autoencode as ae, autoencode.commands.train, autoencode.cli.main;"
            "ae.MLflowLogger; assert 'mlflow' not in sys.modules, 'imported'")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_the_package_it_is_one_line(tiny_npz, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    argv = ["train", "--preset", "stacked", "--data", tiny_npz, "--epochs", "1",
            "--out", str(tmp_path / "run"), "--mlflow", "sqlite:///x.db", "--quiet"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "mlflow-skinny" in err
