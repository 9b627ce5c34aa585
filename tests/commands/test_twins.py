"""The library first, the CLI a shell: every command's API twin does the same, from Python.

Each test runs a CLI command in-process and the library call it stands for, on the same inputs,
and compares what they produce (histories to 1e-6, arrays, images, text).
"""

import json

import numpy as np
import pytest
from matplotlib.image import imread

import autoencode as ae
from autoencode.cli.main import main

SMALL = {"epochs": 2, "batch_size": 16, "seed": 3}


def cli(capsys, *argv) -> str:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def losses(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def assert_same_history(a: list[dict], b: list[dict]) -> None:
    assert [sorted(r) for r in losses(a)] == [sorted(r) for r in losses(b)]
    for ra, rb in zip(losses(a), losses(b), strict=True):
        for key, value in ra.items():
            assert rb[key] == pytest.approx(value, abs=1e-6), key


@pytest.mark.parametrize("preset, api_options, cli_options", [
    ("vae", {"optimizer": "adam"}, ["--optimizer", "adam"]),
    ("stacked", {"model": {"encoder_units": (200, 50)}}, ["--model", "encoder_units=200,50"]),
    ("conv", {"lr": 0.5, "model": {"filters": (8, 16)}}, ["--lr", "0.5", "--model", "filters=8,16"]),
])  # fmt: skip
def test_train(preset, api_options, cli_options, tiny_npz, tmp_path, capsys):
    run = ae.train(preset, tiny_npz, tmp_path / "api", progress=False, **SMALL, **api_options)
    cli(capsys, "train", "--preset", preset, "--data", tiny_npz, "--out", tmp_path / "cli", "--quiet",
        "--epochs", 2, "--batch-size", 16, "--seed", 3, *cli_options)  # fmt: skip
    twin = ae.load_run(tmp_path / "cli")
    assert run.config.model == twin.config.model and run.config.training == twin.config.training
    assert_same_history(run.history, twin.history)


def test_a_new_optimizer_starts_from_its_own_defaults(tiny_npz, tmp_path):
    run = ae.train("vae", tiny_npz, tmp_path / "r", optimizer="adam", epochs=1, progress=False)
    assert run.config.training.optimizer == "adam" and run.config.training.optimizer_options == {}


def test_resume(tiny_npz, tmp_path, capsys):
    for name in ("api", "cli"):
        ae.train("stacked", tiny_npz, tmp_path / name, epochs=1, progress=False)
    resumed = ae.resume(tmp_path / "api", epochs=3, progress=False)  # its own data, from its config
    cli(capsys, "train", "--resume", tmp_path / "cli", "--epochs", 3, "--quiet")
    assert_same_history(resumed.history, ae.load_run(tmp_path / "cli").history)
    assert len(resumed.history) == 3


@pytest.fixture(scope="module")
def runs(tiny_run, tmp_path_factory):
    """A stacked and a variational run (conftest's tiny runs), for this module."""
    folder = tmp_path_factory.mktemp("twins")
    for preset in ("stacked", "vae"):
        tiny_run(preset, into=folder)
    return folder


def same_image(a, b) -> bool:
    return np.array_equal(imread(a), imread(b))


def test_summary(runs, capsys):
    assert cli(capsys, "summary", runs / "stacked") == ae.summary(runs / "stacked") + "\n"
    assert cli(capsys, "summary", "--preset", "conv") == ae.summary("conv") + "\n"


def test_reconstruct(runs, tmp_path, capsys):
    api = ae.save_reconstructions(runs / "stacked", split="test", images=4, out=tmp_path / "a.png")
    cli(
        capsys,
        "reconstruct",
        runs / "stacked",
        "--split",
        "test",
        "-n",
        4,
        "--out",
        tmp_path / "b.png",
    )
    assert same_image(api, tmp_path / "b.png")


def test_generate(runs, tmp_path, capsys):
    ae.save_samples(runs / "vae", 6, seed=5, out=tmp_path / "a.png", npy=tmp_path / "a.npy")
    cli(capsys, "generate", runs / "vae", "-n", 6, "--seed", 5, "--out", tmp_path / "b.png",
        "--npy", tmp_path / "b.npy")  # fmt: skip
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    assert same_image(tmp_path / "a.png", tmp_path / "b.png")


def test_interpolate(runs, tmp_path, capsys):
    ae.save_interpolation(runs / "vae", (2, 5), steps=6, out=tmp_path / "a.png")
    cli(capsys, "interpolate", runs / "vae", "--between", 2, 5, "--steps", 6,
        "--out", tmp_path / "b.png")  # fmt: skip
    assert same_image(tmp_path / "a.png", tmp_path / "b.png")


def test_embed(runs, tmp_path, capsys):
    path, shape = ae.save_codings(runs / "stacked", split="train", out=tmp_path / "a.npy")
    out = cli(capsys, "embed", runs / "stacked", "--split", "train", "--out", tmp_path / "b.npy")
    assert np.array_equal(np.load(path), np.load(tmp_path / "b.npy")) and shape == (64, 30)
    assert out == f"wrote {tmp_path / 'b.npy'} (64 × 30)\n"


def test_map(runs, tmp_path, capsys):
    api = ae.save_map(runs / "stacked", method="pca", out=tmp_path / "a.png")
    cli(capsys, "map", runs / "stacked", "--method", "pca", "--out", tmp_path / "b.png")
    assert np.array_equal(np.load(api["coords"]), np.load(tmp_path / "b.npy"))
    metrics = ae.RunFolder(runs / "stacked").read_metrics()
    assert metrics["maps"]["pca_valid"]["trustworthiness"] == api["trustworthiness"]


def test_explore(runs, tmp_path, capsys):
    api = ae.explore(runs / "stacked", split="test", method="pca", out=tmp_path / "a.html")
    out = cli(capsys, "explore", runs / "stacked", "--split", "test", "--method", "pca",
              "--out", tmp_path / "b.html")  # fmt: skip
    assert api.read_text() == (tmp_path / "b.html").read_text()
    assert out.startswith(f"wrote {tmp_path / 'b.html'} (")


def test_search(runs, tmp_path, capsys):
    ae.save_search(runs / "stacked", [1, 4], k=3, metric="cosine", out=tmp_path / "a.png",
                   csv=tmp_path / "a.csv")  # fmt: skip
    cli(capsys, "search", runs / "stacked", 1, 4, "-k", 3, "--metric", "cosine",
        "--out", tmp_path / "b.png", "--csv", tmp_path / "b.csv")  # fmt: skip
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    assert same_image(tmp_path / "a.png", tmp_path / "b.png")


def test_score(runs, tmp_path, capsys):
    api = ae.save_scores(runs / "stacked", "valid", by="codings", fpr=0.2, k=3,
                         out=tmp_path / "a.csv", figure=tmp_path / "a.png")  # fmt: skip
    out = cli(capsys, "score", runs / "stacked", "--data", "valid", "--by", "codings", "--fpr",
              0.2, "-k", 3, "--out", tmp_path / "b.csv", "--figure", tmp_path / "b.png")  # fmt: skip
    assert api["csv"].read_text() == (tmp_path / "b.csv").read_text()
    assert f"{api['flagged']} of 32 flagged" in out


def test_evaluate(runs, capsys):
    card = ae.evaluate(runs / "stacked", baselines=False, record=False)
    cli(capsys, "evaluate", runs / "stacked", "--no-baselines")
    recorded = ae.RunFolder(runs / "stacked").read_metrics()["evaluation"]
    assert json.loads(json.dumps(card)) == recorded


def test_pretrain(runs, capsys):
    from autoencode.analysis.pretraining import SweepSettings

    settings = SweepSettings(max_epochs=2, max_images=100)
    result = ae.pretrain(runs / "stacked", labels=[12, 20], seeds=2, settings=settings,
                         device="cpu", record=False)  # fmt: skip
    cli(capsys, "pretrain", runs / "stacked", "--labels", "20,12", "--seeds", 2, "--max-epochs", 2,
        "--max-images", 100, "--device", "cpu")  # fmt: skip
    folder = runs / "stacked" / "pretrain"
    assert json.loads((folder / "summary.json").read_text()) == json.loads(json.dumps(result))
    assert ae.RunFolder(runs / "stacked").read_metrics()["pretraining"]["20"] == {
        m: c["mean"] for m, c in result["20"]["modes"].items()
    }


def test_export(runs, tmp_path, capsys):
    onnx = pytest.importorskip("onnx", reason="part of the [dev] extra")
    ae.export_onnx(runs / "vae", tmp_path / "a.onnx", "decoder")
    cli(capsys, "export", runs / "vae", "--part", "decoder", "--out", tmp_path / "b.onnx")
    assert onnx.load(tmp_path / "a.onnx").graph == onnx.load(tmp_path / "b.onnx").graph


def test_export_scorer(runs, tmp_path, capsys):
    onnx = pytest.importorskip("onnx", reason="part of the [dev] extra")
    done = ae.export_onnx(runs / "stacked", tmp_path / "a.onnx", "scorer", by="codings", k=2,
                          fpr=0.1)  # fmt: skip
    out = cli(capsys, "export", runs / "stacked", "--part", "scorer", "--by", "codings", "-k", 2,
              "--fpr", 0.1, "--out", tmp_path / "b.onnx")  # fmt: skip
    a, b = onnx.load(tmp_path / "a.onnx"), onnx.load(tmp_path / "b.onnx")
    assert a.graph == b.graph and a.metadata_props == b.metadata_props
    assert f"threshold {done['threshold']:.6g}" in out


def test_report(runs, capsys):
    page = ae.write_report(runs / "vae").read_text()
    cli(capsys, "report", runs / "vae")
    assert (runs / "vae" / "report.html").read_text() == page


def test_datasets(tmp_path, capsys):
    out = cli(capsys, "datasets", "--data-dir", tmp_path)
    places = ae.dataset_places(tmp_path)
    lines = out.splitlines()[1 : 1 + len(places)]
    for line, place in zip(lines, places, strict=True):
        assert str(place.path) in line
        assert ("complete" in line) == place.complete


def test_prepare(tmp_path, capsys):
    from PIL import Image

    from conftest import synthetic_images

    images, labels = synthetic_images(30, size=10)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (tmp_path / "imgs" / f"c{label % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / "imgs" / f"c{label % 2}" / f"{i}.png")
    manifest = ae.prepare(tmp_path / "imgs", tmp_path / "api", resize=(8, 6), progress=False)
    out = cli(capsys, "prepare", tmp_path / "imgs", "--out", tmp_path / "cli", "--resize", "8x6")
    assert f"wrote {tmp_path / 'cli'}: 30 images of 6×8 (valid 3, train 27)" in out
    assert json.loads((tmp_path / "cli" / "manifest.json").read_text()) == manifest
    for name in ("images.npy", "labels.npy", "files.txt"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()
    assert ae.load_prepared(tmp_path / "cli").class_names == ("c0", "c1")
