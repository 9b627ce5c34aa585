"""``autoencode tune``: an Optuna search whose trials are run folders, that goes on after a kill."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import autoencode as ae
from autoencode.cli.main import main

optuna = pytest.importorskip("optuna", reason="the optuna package ([dev] or [tune] extra)")
PARAMS = ["lr=log:1e-3:3e-2", "coding_size=int:4:16"]


def test_a_tune_of_lr_and_coding_size(tiny_npz, tmp_path, capsys):
    argv = ["tune", "stacked-fast", "--data", tiny_npz, "--trials", "5", "--out", str(tmp_path / "t"),
            *[a for p in PARAMS for a in ("--param", p)]]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    result = json.loads((tmp_path / "t" / "tune.json").read_text())
    assert len(result["trials"]) == 5 and {t["state"] for t in result["trials"]} <= {
        "complete",
        "pruned",
    }
    complete = [t for t in result["trials"] if t["state"] == "complete"]
    assert result["best"]["value"] == min(t["value"] for t in complete)
    for trial in result["trials"]:  # each trial is the run folder of its settings
        run = ae.load_run(tmp_path / "t" / f"trial-{trial['trial']:04d}")
        assert run.config.training.lr == trial["params"]["lr"]
        assert run.config.model.encoder.units == (100, trial["params"]["coding_size"])
        if trial["state"] == "complete":
            assert run.history[-1]["val_loss"] == trial["value"]
    assert set(result["importances"]) == {"lr", "coding_size"}
    assert (tmp_path / "t" / "compare.html").is_file()
    assert f"best: trial {result['best']['trial']}" in capsys.readouterr().out


def finished(out) -> tuple[int, bool]:
    """Trials finished, and whether one is running, read from the study's file alone (read-only:
    Optuna's own loader would create its tables, racing the tune that is creating them)."""
    import sqlite3

    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{out}/study.sqlite?mode=ro", uri=True)
        ) as db:
            states = [row[0] for row in db.execute("SELECT state FROM trials")]
    except sqlite3.Error:  # not made yet, or locked for a moment
        return 0, False
    return sum(s in ("COMPLETE", "PRUNED", "FAIL") for s in states), "RUNNING" in states


def test_a_killed_tune_goes_on_where_it_stopped(tiny_npz, tmp_path):
    out = tmp_path / "t"
    argv = [sys.executable, "-m", "autoencode", "tune", "stacked", "--data", tiny_npz, "--trials", "20",
            "--epochs", "1", "--device", "cpu", "--out", str(out), "--param", "lr=log:1e-2:1"]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if (out / "study.sqlite").is_file():
            done, running = finished(out)
            if done >= 2 and running:  # in the middle of the third trial or later
                break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = {t.number: t.value for t in optuna.load_study(
        study_name="autoencode", storage=f"sqlite:///{out}/study.sqlite").trials if t.state.is_finished()}  # fmt: skip
    assert 2 <= len(before) < 20
    result = ae.tune("stacked", tiny_npz, out, trials=20, params=["lr=log:1e-2:1"], epochs=1)
    states = [t["state"] for t in result["trials"]]
    assert sum(s in ("complete", "pruned") for s in states) == 20 and states.count("fail") <= 1
    values = {t["trial"]: t["value"] for t in result["trials"]}
    assert all(
        values[n] == v for n, v in before.items()
    )  # each finished trial held once, as it was
    folders = sorted(p.name for p in out.glob("trial-*"))
    kept = [f"trial-{t['trial']:04d}" for t in result["trials"] if t["state"] != "fail"]
    assert folders == sorted(kept)  # the killed trial's half-written folder is gone
    for name in folders:
        assert ae.load_run(out / name).history


@pytest.mark.parametrize("extra, message", [
    (["--param", "wings=log:1:2"], "--param: 'wings' is no setting stacked can search"),
    (["--param", "lr=log:2:1"], "needs LOW < HIGH"),
    (["--param", "lr=zzz"], "expected NAME=log:LOW:HIGH"),
    (["--param", "coding_size=int:2:8", "--out", "STUDY"], "study.sqlite: not an Optuna study"),
])  # fmt: skip
def test_bad_input_is_one_line(extra, message, tiny_npz, tmp_path, capsys):
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "study.sqlite").write_text("not a database")
    extra = [str(tmp_path / "study") if a == "STUDY" else a for a in extra]
    code = main(["tune", "stacked", "--data", tiny_npz, "--trials", "2", *extra,
                 *([] if "--out" in extra else ["--out", str(tmp_path / "t")])])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
