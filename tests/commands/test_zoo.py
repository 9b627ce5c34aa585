"""``autoencode zoo`` / ``ae.zoo``: every preset named, trained and scored on one dataset, within
a time budget when given one."""

import json
import time

import numpy as np
import pytest

import autoencode as ae
from autoencode.cli.main import main
from autoencode.commands.zoo import Deadline
from conftest import synthetic_images


def test_the_table_the_page_and_a_run_folder_per_preset(tiny_npz, tmp_path, capsys):
    out = tmp_path / "zoo"
    argv = ["zoo", "--data", tiny_npz, "--presets", "stacked", "vae", "--epochs", "2",
            "--samples", "32", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    result = json.loads((out / "zoo.json").read_text())
    assert [r["preset"] for r in result["rows"]] == ["stacked", "vae"] and result["split"] == "test"
    table = (out / "zoo.md").read_text()
    assert table.count("\n") == 4 and "| `vae` |" in table and table.strip() in printed
    assert (out / "compare.html").stat().st_size > 10_000
    for row in result["rows"]:
        run = ae.load_run(out / row["preset"])
        card = run.folder.read_metrics()["evaluation"]
        assert row["epochs"] == len(run.history) == 2
        assert row["test_mse"] == card["mse"] and row["knn5"] == card["codings"]["knn5"]
        assert row["val"]["loss"] == run.history[-1]["val_loss"]
    assert result["rows"][0]["samples"] is None and result["rows"][1]["samples"]["n"] == 16


def test_a_budget_is_kept_and_spent_on_epochs(tiny_data, tmp_path):
    minutes = 0.25
    result = ae.zoo(tiny_data, tmp_path / "zoo", presets=["stacked", "conv-fast"],
                    minutes=minutes, samples=0)  # fmt: skip
    assert result["budget_s"] == 15
    assert result["wall_s"] <= 1.5 * result["budget_s"]
    assert sum(r["train_s"] for r in result["rows"]) <= result["budget_s"]
    for row in result["rows"]:
        assert row["share_s"] > 0 and row["epochs"] >= 1
        assert row["train_s"] <= 1.5 * row["share_s"]


def test_the_deadline_stops_after_the_epoch_that_reaches_it(tiny_data, tmp_path):
    stopped = ae.train("stacked", tiny_data, tmp_path / "a", epochs=5, progress=False,
                       callbacks=[Deadline(time.perf_counter())])  # fmt: skip
    assert len(stopped.history) == 1
    free = ae.train("stacked", tiny_data, tmp_path / "b", epochs=3, progress=False,
                    callbacks=[Deadline(time.perf_counter() + 3600)])  # fmt: skip
    assert len(free.history) == 3


def test_data_without_a_test_split_or_labels_is_scored_on_validation(tmp_path, capsys):
    images, _ = synthetic_images(80)
    np.save(tmp_path / "unlabelled.npy", images)
    out = tmp_path / "zoo"
    argv = ["zoo", "--data", str(tmp_path / "unlabelled.npy"), "--presets", "stacked",
            "--epochs", "1", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    result = json.loads((out / "zoo.json").read_text())
    (row,) = result["rows"]
    assert (
        result["split"] == "valid"
        and row["knn5"] is None
        and "valid BCE" in capsys.readouterr().out
    )
    card = ae.load_run(out / "stacked").folder.read_metrics()["evaluation"]
    assert card["split"] == "valid" and "codings" not in card and card["n_valid"] > 0


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--presets", "stacked", "nonesuch"], "nonesuch"),
        (["--minutes", "0"], "--minutes"),
        (["--minutes", "inf"], "--minutes"),
        (["--minutes", "1", "--epochs", "2"], "--minutes"),
    ],
)
def test_bad_arguments_are_one_line(extra, says, tiny_npz, tmp_path, capsys):
    argv = ["zoo", "--data", tiny_npz, "--out", str(tmp_path / "zoo"), "--quiet", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and says in err
    assert not (tmp_path / "zoo").exists()


def test_a_run_folder_already_there_is_one_line(tiny_npz, tmp_path, capsys):
    (tmp_path / "zoo" / "stacked").mkdir(parents=True)
    (tmp_path / "zoo" / "stacked" / "config.json").write_text("{}")
    argv = ["zoo", "--data", tiny_npz, "--presets", "stacked", "--epochs", "1",
            "--out", str(tmp_path / "zoo"), "--quiet"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--overwrite" in err
