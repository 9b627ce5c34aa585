"""Sample quality: Fréchet distance and precision / recall in a cached classifier's features."""

import numpy as np
import pytest

import autoencode as ae
from autoencode.analysis.sample_quality import (
    FeatureNetConfig,
    feature_classifier,
    frechet_distance,
    precision_recall,
)


def test_frechet_distance_of_gaussians():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4000, 6)), rng.normal(size=(4000, 6))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-9)
    assert frechet_distance(a, b) < 0.05
    shift = np.array([1.0, 2.0, 0, 0, 0, 0])  # ‖δ‖² = 5, the covariances the same
    assert frechet_distance(a, a + shift) == pytest.approx(5, rel=1e-9)
    # twice as wide: tr(Σ + 4Σ - 2·2Σ) = tr(Σ), and the means (near 0) twice as far apart
    expected = np.trace(np.cov(a, rowvar=False)) + a.mean(0) @ a.mean(0)
    assert frechet_distance(a, 2 * a) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)


def test_precision_and_recall_tell_quality_from_coverage():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(1500, 4))
    assert min(precision_recall(real, rng.normal(size=(1500, 4)))) > 0.8
    collapsed = rng.normal(scale=0.1, size=(1500, 4))  # good images, little variety
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.3
    off = rng.normal(loc=6, size=(1500, 4))  # varied, but not like the real ones
    assert max(precision_recall(real, off)) < 0.05


@pytest.fixture
def labelled(tiny_data):
    return tiny_data


def test_the_feature_classifier_is_trained_once_and_cached(labelled, tmp_path):
    config = FeatureNetConfig(filters=(4, 8), features=16, epochs=2)
    net, info = feature_classifier(labelled, config, cache=tmp_path, device="cpu")
    assert [p.name for p in tmp_path.iterdir()] == [info["path"].rsplit("/", 1)[1]]
    assert 0 <= info["test_accuracy"] <= 1 and len(info["sha256"]) == 64
    assert info["config"]["features"] == 16
    again, info_again = feature_classifier(labelled, config, cache=tmp_path, device="cpu")
    assert info_again["sha256"] == info["sha256"]
    for a, b in zip(net.state_dict().values(), again.state_dict().values(), strict=True):
        assert np.array_equal(a.numpy(), b.numpy())


def test_evaluate_scores_the_samples_of_a_generative_run(labelled, tmp_path, monkeypatch, capsys):
    from autoencode.cli.main import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run = ae.train("vae", labelled, tmp_path / "vae", epochs=1, progress=False)
    card = ae.evaluate(run, labelled, baselines=False, samples=16)
    scores = card["samples"]
    assert scores["n"] == 16 and scores["frechet_distance"] >= 0
    assert 0 <= scores["precision"] <= 1 and 0 <= scores["recall"] <= 1
    assert set(scores["floor"]) == {"frechet_distance", "precision", "recall"}
    assert {"config", "sha256", "test_accuracy"} <= set(scores["classifier"])
    stacked = ae.train("stacked", labelled, tmp_path / "stacked", epochs=1, progress=False)
    assert "samples" not in ae.evaluate(stacked, labelled, baselines=False)  # cannot sample
    run_npz = tmp_path / "d.npz"
    np.savez(run_npz, x_train=labelled.train.images, y_train=labelled.train.labels,
             x_valid=labelled.valid.images, y_valid=labelled.valid.labels,
             x_test=labelled.test.images, y_test=labelled.test.labels)  # fmt: skip
    ae.train("vae", str(run_npz), tmp_path / "cli", epochs=1, progress=False)
    assert main(["evaluate", str(tmp_path / "cli"), "--samples", "16", "--no-baselines"]) == 0
    out = capsys.readouterr().out
    assert "16 samples against the test set: Fréchet distance" in out and "sha256" in out
