"""The CLI in-process (``main(argv)``), plus one subprocess check: Ctrl-C.

That building the parser (``--help``) imports no torch is tests/test_architecture.py's probe.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from autoencode.cli.main import main
from autoencode.run import load_run
from conftest import assert_gray, cells, read_png, synthetic_images


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def trained(tiny_npz, tmp_path, capsys):
    code, out, _ = cli(capsys, "train", "--data", tiny_npz, "--epochs", 2, "--batch-size", 16,
                       "--out", tmp_path / "run", "--quiet")  # fmt: skip
    assert code == 0, out
    return tmp_path / "run"


def test_train_writes_a_run_folder(trained, capsys):
    run = load_run(trained)
    assert len(run.history) == 2 and run.config.data.location.endswith("tiny.npz")
    assert run.config.training.batch_size == 16


def test_train_model_options(tiny_npz, tmp_path, capsys):
    code, _out, err = cli(capsys, "train", "--data", tiny_npz, "--epochs", 1, "--out", tmp_path / "r",
                         "--model", "encoder_units=64,8", "--model", "activation=relu",
                         "--optimizer", "adam", "--lr", "0.001", "--quiet")  # fmt: skip
    assert code == 0, err
    run = load_run(tmp_path / "r")
    assert run.config.model.encoder.units == (64, 8) and run.config.training.optimizer == "adam"
    assert run.encode(synthetic_images(3)[0]).shape == (3, 8)


def test_summary_matches_the_seed(capsys):
    code, out, _ = cli(capsys, "summary", "--preset", "stacked")
    assert code == 0
    assert "Total params: 163,814" in out and "(None, 30)" in out


def test_summary_of_a_run_and_the_preset_list(trained, capsys):
    assert "Total params: 163,814" in cli(capsys, "summary", trained)[1]
    assert "stacked" in cli(capsys, "summary")[1]


def test_reconstruct_writes_a_png(trained, capsys):
    code, out, _ = cli(capsys, "reconstruct", trained, "-n", 4)
    png = trained / "figures" / "reconstructions.png"
    assert code == 0 and f"wrote {png}" in out
    pixels = read_png(png, 300, 150)
    assert pixels.shape[1] > 1.5 * pixels.shape[0]  # two rows of four
    assert_gray(pixels)
    for i, cell in enumerate(cells(pixels, 2, 4)):  # every image drawn
        assert cell[..., :3].var() > 1e-3, f"image {i} is blank"


def test_resume_from_the_cli(trained, capsys):
    code, _out, err = cli(capsys, "train", "--resume", trained, "--epochs", 3, "--quiet")
    assert code == 0, err
    assert len(load_run(trained).history) == 3


@pytest.mark.parametrize("argv, message", [
    (["train", "--epochs", "0"], "train: argument --epochs: expected a positive integer, got '0'"),
    (["train", "--batch-size", "-1"], "argument --batch-size: expected a positive integer, got '-1'"),
    (["train", "--lr", "zero"], "argument --lr: expected a positive number"),
    (["train", "--preset", "nope"], "unknown preset 'nope': expected one of stacked"),
    (["train", "--data", "nowhere.npz"], "nowhere.npz: no such file"),
    (["train", "--data", "nowhere"], "unknown dataset 'nowhere'"),
    (["train", "--data-dir", "/nonexistent"], "/nonexistent: data directory (--data-dir) does not exist"),
    (["train", "--model", "units"], "expected KEY=VALUE"),
    (["train", "--model", "wings=2"], "unknown model setting(s): wings"),
    (["train", "--device", "tpu:9"], "unknown device 'tpu:9'"),
    (["reconstruct", "/nonexistent/run"], "/nonexistent/run: not a run folder"),
    (["summary", "--preset", "nope"], "unknown preset 'nope'"),
    (["export", "/nonexistent/run"], "/nonexistent/run: not a run folder"),
    (["export", "x", "--part", "middle"], "argument --part: invalid choice: 'middle'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])  # fmt: skip
def test_bad_input_is_one_line(capsys, argv, message):
    code, _out, err = cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("autoencode: error: "), err
    assert message in err


def test_export_writes_an_onnx_file(trained, capsys):
    pytest.importorskip("onnxruntime", reason="part of the [dev] extra")
    code, out, _ = cli(capsys, "export", trained, "--part", "encoder")
    path = trained / "export" / "encoder.onnx"
    assert code == 0 and out.startswith(f"wrote {path}: images float32 (N, 1, 28, 28) → codings")
    assert "onnxruntime matches the model" in out and path.stat().st_size > 1000


def test_existing_out_folder_is_refused(trained, tiny_npz, capsys):
    code, _, err = cli(capsys, "train", "--data", tiny_npz, "--out", trained, "--quiet")
    assert code == 2 and "run folder exists" in err


def test_ctrl_c_keeps_the_last_finished_epoch(tmp_path):
    images, labels = synthetic_images(4000)
    np.savez(tmp_path / "big.npz", x_train=images, y_train=labels)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoencode", "train", "--data", tmp_path / "big.npz", "--epochs", "500",
         "--out", run_dir, "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # a suite started in the background inherits SIGINT ignored, and Python then keeps it so
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while (
        not (run_dir / "history.csv").exists()
        and time.monotonic() < deadline
        and proc.poll() is None
    ):
        time.sleep(0.05)
    time.sleep(0.3)  # land somewhere inside a later epoch, or inside a save
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "holds the last finished epoch" in err
    run = load_run(run_dir)
    assert 1 <= len(run.history) < 500
    assert not list(Path(run_dir).rglob(".*.tmp"))


@pytest.fixture
def trained_vae(tiny_npz, tmp_path, capsys):
    code, _, err = cli(capsys, "train", "--preset", "vae", "--data", tiny_npz, "--epochs", 2,
                       "--out", tmp_path / "vae", "--quiet")  # fmt: skip
    assert code == 0, err
    return tmp_path / "vae"


def test_generate_is_reproducible(trained_vae, tmp_path, capsys):
    for name in ("a", "b"):
        code, _out, err = cli(capsys, "generate", trained_vae, "-n", 6, "--seed", 3,
                             "--out", tmp_path / f"{name}.png", "--npy", tmp_path / f"{name}.npy")  # fmt: skip
        assert code == 0, err
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.shape == (6, 28, 28) and np.array_equal(a, b)
    pixels = read_png(tmp_path / "a.png", 300, 200)
    np.testing.assert_array_equal(pixels, read_png(tmp_path / "b.png"))
    assert_gray(pixels)
    for i, cell in enumerate(cells(pixels, 2, 3)):  # 6 images: 2 rows of 3
        assert cell[..., :3].var() > 1e-4, f"sample {i} is blank"


def test_generate_without_a_prior_names_the_sampler_to_fit(trained, capsys):
    code, _, err = cli(capsys, "generate", trained)
    assert code == 2 and "has no prior; fit a sampler on its codings" in err
    assert "--sampler gmm" in err


@pytest.mark.parametrize("fixture", ["trained", "trained_vae"])
def test_interpolate_writes_a_strip(fixture, request, capsys):
    run_dir = request.getfixturevalue(fixture)
    code, _out, err = cli(capsys, "interpolate", run_dir, "--between", 0, 3, "--steps", 5)
    assert code == 0, err
    pixels = read_png(run_dir / "figures" / "interpolation.png", 300, 80)
    assert pixels.shape[1] > 2.5 * pixels.shape[0]  # one row of five
    assert_gray(pixels)
    for i, cell in enumerate(cells(pixels, 1, 5)):
        assert cell[..., :3].var() > 1e-4, f"step {i} is blank"
    code, _, err = cli(capsys, "interpolate", run_dir, "--between", 0, 999)
    assert code == 2 and "index 999 is outside the valid split (0 to 31)" in err


def test_report_is_one_self_contained_page(trained, capsys):
    assert cli(capsys, "reconstruct", trained)[0] == 0
    code, out, err = cli(capsys, "report", trained)
    assert code == 0, err
    assert f"wrote {trained / 'report.html'}" in out
    page = (trained / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "reconstructions.png" in page
    assert page.count("data:image/png;base64,") == 2  # the loss curve and the figure
    assert "<th>val_loss</th>" in page


def test_demo_runs_the_whole_workflow(tiny_npz, tmp_path, capsys):
    from autoencode.cli.demo import steps

    out_dir = tmp_path / "demo"
    code, out, err = cli(capsys, "demo", "--quick", "--data", tiny_npz, "--out", out_dir,
                         "--device", "cpu")  # fmt: skip
    assert code == 0, err
    ran = [line.split()[2] for line in out.splitlines() if line.startswith("$ autoencode ")]
    assert ran == [argv[0] for argv in steps(str(out_dir))]
    figures = {p.relative_to(out_dir).as_posix() for p in out_dir.glob("*/figures/*.png")}
    assert figures >= {"stacked/figures/reconstructions.png", "stacked/figures/map_tsne.png",
                       "conv/figures/reconstructions.png", "vae/figures/samples.png",
                       "vae/figures/interpolation.png"}  # fmt: skip
    for run in ("stacked", "conv", "vae"):  # a report per run, linking the run's explorer page
        assert (out_dir / run / "explore.html").is_file()
        assert 'href="explore.html"' in (out_dir / run / "report.html").read_text()
    # 100 to 10,000 labels asked for, 64 training images: all of them, said so
    assert "(pretraining with 64 labels: the training split has 64 images)" in out
    assert "64" in json.loads((out_dir / "stacked" / "metrics.json").read_text())["pretraining"]
    assert (out_dir / "stacked" / "figures" / "pretraining.png").is_file()
    assert "pretraining.png" in (out_dir / "stacked" / "report.html").read_text()
    assert load_run(out_dir / "vae").config.training.epochs == 1


def test_demo_on_unlabelled_data_skips_pretraining(tmp_path, capsys):
    images, _ = synthetic_images(64)
    np.save(tmp_path / "x.npy", images)
    out_dir = tmp_path / "demo"
    code, out, err = cli(capsys, "demo", "--quick", "--data", tmp_path / "x.npy", "--out", out_dir,
                         "--device", "cpu")  # fmt: skip
    assert code == 0, err
    assert "(no pretraining step: 'x' has no labelled train, valid and test splits)" in out
    assert "$ autoencode pretrain" not in out
    assert all((out_dir / run / "report.html").is_file() for run in ("stacked", "conv", "vae"))


def test_overwrite_replaces_only_run_folders(tiny_npz, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    code, _, err = cli(capsys, "train", "--data", tiny_npz, "--out", mine, "--overwrite", "--quiet")
    assert code == 2 and err.count("\n") == 1
    assert "not a run folder (no config.json); --overwrite only replaces run folders" in err
    assert (mine / "thesis.tex").read_text() == "precious"


def test_paths_the_system_refuses_are_one_line(trained, tiny_npz, tmp_path, capsys):
    code, _, err = cli(capsys, "reconstruct", trained, "--out", tmp_path)  # a folder, not a file
    assert code == 2 and err.count("\n") == 1 and f"{tmp_path}: cannot write it" in err
    assert not list(tmp_path.glob(".*.tmp"))
    code, _, err = cli(capsys, "train", "--data", tiny_npz, "--out", f"{tiny_npz}/run", "--quiet")
    assert code == 2 and err.count("\n") == 1 and "run: cannot create the run folder" in err, err


def test_any_refused_path_is_one_line(capsys, monkeypatch):
    import autoencode.cli.report

    def refused(args):
        raise PermissionError(13, "Permission denied", args.run_folder)

    monkeypatch.setattr(autoencode.cli.report, "run", refused)
    code, _, err = cli(capsys, "report", "/some/run")
    assert code == 2 and err == "autoencode: error: /some/run: Permission denied\n"


def test_a_file_where_a_folder_goes_is_named(trained, tiny_npz, capsys):
    code, _, err = cli(capsys, "reconstruct", trained, "--out", f"{tiny_npz}/r.png")
    assert code == 2 and f"{tiny_npz}: cannot make this folder" in err
