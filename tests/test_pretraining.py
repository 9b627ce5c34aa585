"""Unsupervised pretraining: the classifier copies the encoder, freezes it, and learns from labels."""

import numpy as np
import pytest
import torch

from autoencode.analysis.pretraining import labelled_subset, pretrain
from autoencode.api import train
from autoencode.errors import AutoencodeError
from autoencode.models.classifier import Classifier
from autoencode.presets import PRESETS


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


def test_pretrain_learns_from_few_labels(data, tmp_path):
    run = train("stacked", data, tmp_path / "s", epochs=3, progress=False)
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    result = pretrain(run, data, labels=40, epochs=15, fine_tune_epochs=5)
    assert (
        result["pretrained_fine_tuned"] > 0.5 and result["scratch"] > 0.5
    )  # 4 classes: chance 0.25
    assert all(torch.equal(before[k], v) for k, v in run.model.state_dict().items())


def test_labelled_subset(data):
    few = labelled_subset(data.train, 10, seed=1)
    assert len(few) == 10 and np.array_equal(
        few.labels, labelled_subset(data.train, 10, seed=1).labels
    )
    with pytest.raises(AutoencodeError, match="labels must be between 1 and 140"):
        labelled_subset(data.train, 1000, seed=1)
