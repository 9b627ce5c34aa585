"""Unsupervised pretraining: the classifier copies the encoder, freezes it, and learns from labels."""

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import autoencode as ae
from autoencode.analysis import pretraining
from autoencode.analysis.pretraining import (
    MODES,
    SweepSettings,
    accuracy,
    balanced_draw,
    labelled_subset,
    train_classifier,
)
from autoencode.analysis.sweep_record import interval
from autoencode.commands import pretrain as pretrain_command
from autoencode.commands.pretrain import pretrain
from autoencode.commands.train import train
from autoencode.errors import AutoencodeError, DataError
from autoencode.models.classifier import Classifier
from autoencode.presets import PRESETS
from autoencode.run import load_run


@pytest.fixture(scope="module")
def data():
    from autoencode.data.types import Dataset, Split
    from conftest import synthetic_images

    images, labels = synthetic_images(200)
    return Dataset("tiny", Split(images[60:], labels[60:]), Split(images[:30], labels[:30]),
                   Split(images[30:60], labels[30:60]), ("a", "b", "c", "d"))  # fmt: skip


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_classifier_copies_the_encoder(preset, data, tmp_path):
    run = train(preset, data, tmp_path / preset, epochs=1, progress=False)
    x = torch.rand(3, *run.model.config.input_shape)
    pretrained = Classifier.from_autoencoder(run.model, 4)
    scratch = Classifier.from_autoencoder(run.model, 4, pretrained=False)
    with torch.no_grad():
        codings = run.model.encode(x).flatten(1)
        assert torch.allclose(pretrained.eval()(x).codings, codings)
        assert not torch.allclose(scratch.eval()(x).codings, codings)
        assert pretrained(x).logits.shape == (3, 4)
    pretrained.freeze_encoder()
    assert not any(p.requires_grad for p in pretrained.encoder.parameters())
    assert all(p.requires_grad for p in pretrained.head.parameters())
    assert run.model.encoder_network() is not pretrained.encoder  # a copy: the run is untouched


def sweep_options(**more):
    return {"labels": [8, 24], "seeds": 2, "device": "cpu", "record": False,
            "settings": SweepSettings(max_epochs=6, max_images=400, checks=3, patience=2,
                                      valid_size=20), **more}  # fmt: skip


@pytest.fixture(scope="module")
def stacked(data, tmp_path_factory):
    return train("stacked", data, tmp_path_factory.mktemp("run") / "s", epochs=3, progress=False)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def copy_run(run, folder):
    shutil.copytree(run.path, folder)
    return folder


def test_a_sweep_learns_from_few_labels_and_leaves_the_run_alone(stacked, data, tmp_path):
    run = load_run(copy_run(stacked, tmp_path / "s"))
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    summary = pretrain(run, data, labels=[40], seeds=1, device="cpu")
    modes = summary["40"]["modes"]
    assert set(modes) == set(MODES)
    assert modes["finetune"]["mean"] > 0.5 and modes["scratch"]["mean"] > 0.5  # chance: 0.25
    assert all(torch.equal(before[k], v) for k, v in run.model.state_dict().items())
    assert (run.path / "figures" / "pretraining.png").stat().st_size > 0
    assert ae.RunFolder(run.path).read_metrics()["pretraining"]["40"] == {
        m: c["mean"] for m, c in modes.items()
    }


def test_frozen_keeps_the_encoder_and_finetune_changes_it(stacked, data):
    few = labelled_subset(data.train, 40, seed=1)
    settings = SweepSettings(max_epochs=3, checks=3)
    encoder = stacked.model.encoder_network().state_dict()
    for mode in ("frozen", "finetune"):
        model, _, _ = train_classifier(stacked, mode, few, data.valid, 4, settings, 1, "cpu")
        kept = [torch.equal(v, model.encoder.state_dict()[k]) for k, v in encoder.items()]
        assert all(kept) if mode == "frozen" else not any(kept), mode
        assert not model.head.weight.equal(
            Classifier.from_autoencoder(stacked.model, 4).head.weight
        )


def test_early_stopping_keeps_the_best_weights(stacked, data):
    """Patience 1, checked every epoch: training ends after the first check without a gain, and
    the weights kept score the best validation accuracy seen."""
    few = labelled_subset(data.train, 40, seed=1)
    settings = SweepSettings(lr=0.05, max_epochs=40, checks=40, patience=1, valid_size=30)
    model, stopper, epochs = train_classifier(stacked, "scratch", few, data.valid, 4, settings, 1,
                                              "cpu")  # fmt: skip
    assert epochs < 40 and stopper.best_epoch == epochs - 1
    assert accuracy(model, data.valid) == stopper.best


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=200), st.integers(1, 60), st.integers(0, 9))
def test_the_label_draw_is_class_balanced(labels, n, seed):
    """Every class gets the same share, give or take one, except those with too few images,
    which give all they have; the same seed, the same draw."""
    labels = np.array(labels)
    if n > len(labels):
        with pytest.raises(DataError, match=r"labels: .* asked for, there are"):
            balanced_draw(labels, n, seed)
        return
    pick = balanced_draw(labels, n, seed)
    classes, available = np.unique(labels, return_counts=True)
    drawn = np.array([np.sum(labels[pick] == c) for c in classes])
    short = drawn == available
    assert len(np.unique(pick)) == n
    assert (drawn[~short].max() - drawn[~short].min() <= 1) if (~short).any() else True
    if (~short).any():
        assert (drawn[short] <= drawn[~short].min() + 1).all()
    assert np.array_equal(pick, balanced_draw(labels, n, seed))


def test_every_mode_gets_the_same_draw_and_the_csv_says_so(stacked, data, tmp_path):
    run = copy_run(stacked, tmp_path / "s")
    pretrain(run, data, **sweep_options())
    rows = read_csv(run / "pretrain" / "results.csv")
    assert len(rows) == 2 * 2 * len(MODES)
    draws = {(r["labels"], r["seed"]): set() for r in rows}
    for r in rows:
        draws[(r["labels"], r["seed"])].add(r["draw"])
    assert all(len(d) == 1 for d in draws.values()) and len({d.pop() for d in draws.values()}) == 4
    summary = json.loads((run / "pretrain" / "summary.json").read_text())
    cell = summary["24"]["modes"]["scratch"]
    assert cell["n"] == 2 and cell["low"] <= cell["mean"] <= cell["high"]
    assert set(summary["24"]["minus_scratch"]) == {"frozen", "finetune", "pca"}


def test_a_resumed_sweep_equals_an_uninterrupted_one(stacked, data, tmp_path, monkeypatch):
    whole = copy_run(stacked, tmp_path / "whole")
    pretrain(whole, data, **sweep_options())
    broken = copy_run(stacked, tmp_path / "broken")
    real, calls = pretraining.network_cell, []

    def crash_on_the_fifth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(pretrain_command, "network_cell", crash_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        pretrain(broken, data, **sweep_options())
    monkeypatch.setattr(pretrain_command, "network_cell", real)
    held = read_csv(broken / "pretrain" / "results.csv")
    assert 0 < len(held) < 16
    pretrain(broken, data, **sweep_options())
    results = [(p / "pretrain" / "results.csv").read_bytes() for p in (whole, broken)]
    assert results[0] == results[1]
    assert (
        sum(1 for _ in json.loads((broken / "pretrain" / "sweep.json").read_text())["seconds"])
        == 16
    )


def test_the_same_seeds_give_the_same_results(stacked, data, tmp_path):
    outputs = []
    for name in ("a", "b"):
        run = copy_run(stacked, tmp_path / name)
        pretrain(run, data, **sweep_options(modes=("finetune", "scratch")))
        outputs.append((run / "pretrain" / "results.csv").read_bytes())
    assert outputs[0] == outputs[1]


def test_a_sweep_with_other_settings_is_not_mixed_in(stacked, data, tmp_path):
    run = copy_run(stacked, tmp_path / "s")
    pretrain(run, data, **sweep_options(modes=("scratch",), seeds=1))
    other = sweep_options(
        modes=("scratch",), seeds=1, settings=SweepSettings(lr=0.01, max_epochs=2)
    )
    with pytest.raises(
        AutoencodeError, match="holds a sweep with other settings; --overwrite starts it again"
    ):
        pretrain(run, data, **other)
    assert pretrain(run, data, **other, overwrite=True)["8"]["modes"]["scratch"]["n"] == 1
    ae.resume(run, data, epochs=4, progress=False)  # new weights: the cells no longer hold
    with pytest.raises(AutoencodeError, match="holds a sweep with other weights; --overwrite"):
        pretrain(run, data, **other)


def test_bad_sweeps_are_one_line(stacked, data):
    with pytest.raises(AutoencodeError, match="labels: each count must be between 1 and 140"):
        pretrain(stacked, data, labels=[1000], record=False)
    with pytest.raises(AutoencodeError, match="modes: expected some of frozen"):
        pretrain(stacked, data, modes=("frozen", "fancy"), record=False)
    unlabelled = ae.Dataset("x", data.train, ae.Split(data.valid.images, None), data.test)
    with pytest.raises(DataError, match="no labelled 'valid' split"):
        pretrain(stacked, unlabelled, labels=[8], record=False)


def test_the_interval_is_students():
    cell = interval([0.5, 0.7])  # mean 0.6, sd 0.1414, t(0.975, 1) = 12.706
    assert cell["mean"] == pytest.approx(0.6)
    assert cell["high"] - cell["mean"] == pytest.approx(12.7062 * 0.141421 / 2**0.5, rel=1e-4)
    assert interval([0.5])["low"] is None


def test_labelled_subset(data):
    few = labelled_subset(data.train, 10, seed=1)
    assert len(few) == 10 and np.array_equal(
        few.labels, labelled_subset(data.train, 10, seed=1).labels
    )
    with pytest.raises(AutoencodeError, match="labels must be between 1 and 140"):
        labelled_subset(data.train, 1000, seed=1)


def test_the_summary_is_of_the_cells_asked_for(stacked, data, tmp_path):
    """results.csv keeps every cell measured; a call's summary (and metrics) are its own cells."""
    run = copy_run(stacked, tmp_path / "s")
    pretrain(run, data, **sweep_options(modes=("scratch",)))
    summary = pretrain(run, data, **sweep_options(labels=[8], seeds=1, modes=("scratch",)))
    assert list(summary) == ["8"] and summary["8"]["modes"]["scratch"]["n"] == 1
    assert len(read_csv(run / "pretrain" / "results.csv")) == 4


def test_awkward_but_valid_data_and_settings(stacked, data, tmp_path, monkeypatch):
    """One label (PCA's spread is undefined), labels from 1, a single int for labels."""
    run = copy_run(stacked, tmp_path / "s")
    assert pretrain(run, data, **sweep_options(labels=1, seeds=1, modes=("pca",)))["1"]
    shifted = ae.Dataset("shifted", *(ae.Split(s.images, s.labels + 1) for s in
                                      (data.train, data.valid, data.test)), ("a", "b", "c", "d"))  # fmt: skip
    summary = pretrain(
        run, shifted, **sweep_options(labels=[8], seeds=1, modes=("scratch",)), overwrite=True
    )  # other data: refused without it
    assert 0 <= summary["8"]["modes"]["scratch"]["mean"] <= 1
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(AutoencodeError, match="one process, not under torchrun"):
        pretrain(run, data, **sweep_options())


def test_more_bad_sweeps_are_one_line(stacked, data, tmp_path):
    negative = ae.Dataset("neg", data.train, ae.Split(data.valid.images, data.valid.labels - 1),
                          data.test)  # fmt: skip
    with pytest.raises(DataError, match=r"class labels from 0; 'neg' has -1 in its 'valid'"):
        pretrain(stacked, negative, labels=[8], record=False)
    for bad in ({"checks": 0}, {"valid_size": -3}, {"pca_components": ()}, {"lr": 0.0}):
        with pytest.raises(AutoencodeError, match=r"must be|at least one"):
            SweepSettings(**bad)
    run = copy_run(stacked, tmp_path / "s")
    pretrain(run, data, **sweep_options(modes=("scratch",), seeds=1))
    (run / "pretrain" / "results.csv").write_bytes(b"\xff\xfe not a csv")
    with pytest.raises(AutoencodeError, match=r"results\.csv: not a results file of a label sweep"):
        pretrain(run, data, **sweep_options(modes=("scratch",), seeds=1))
