"""Unsupervised pretraining, measured: a classifier on few labels, with and without the encoder
that an autoencoder learned from unlabelled images (the seed's phase 1 → phase 2).

Phase 1 is the run itself (an autoencoder trained without labels). Phase 2 copies its encoder
layers into a classifier (+ a dense softmax layer), trains the new layer with the encoder frozen,
then fine-tunes everything at a tenth of the learning rate, on ``labels`` labelled training
images. The same classifier from scratch (the same layers freshly initialised) trains as long
on the same images; both are scored on the test split.
"""

from __future__ import annotations

import numpy as np
import torch

from autoencode.analysis.evaluation import run_data
from autoencode.data.batches import apply_in_batches
from autoencode.data.types import Dataset, Split
from autoencode.errors import AutoencodeError
from autoencode.models.classifier import Classifier
from autoencode.run import load_run
from autoencode.training.config import TrainingConfig
from autoencode.training.setup import fit, make_trainer


def labelled_subset(split: Split, n: int, seed: int) -> Split:
    """``n`` random examples of ``split`` (the few that get labels)."""
    if split.labels is None:
        raise AutoencodeError("pretraining needs a labelled train split")
    if not 0 < n <= len(split):
        raise AutoencodeError(f"{{parameter}} must be between 1 and {len(split)}, got {n}",
                              parameter="labels")  # fmt: skip
    pick = np.sort(np.random.default_rng(seed).permutation(len(split))[:n])
    return Split(split.images[pick], split.labels[pick])


@torch.inference_mode()
def accuracy(model: Classifier, split: Split, batch_size: int = 1000) -> float:
    model.eval()
    device = next(model.parameters()).device
    predictions = apply_in_batches(
        lambda x: model(x).logits.argmax(1), split.images, device, batch_size
    )
    return float((predictions.numpy() == split.labels).mean())


def pretrain(run,  # long: a third of it is the signature and the docstring
             data: Dataset | str | None = None, labels: int = 500, epochs: int = 50,
             fine_tune_epochs: int = 50, lr: float = 5e-3, batch_size: int = 32, seed: int = 42,
             device: str = "auto", progress: bool = False, *, data_dir=None,
             record: bool = True) -> dict:  # fmt: skip
    """Test accuracy of the pretrained classifier (frozen, then fine-tuned) and from scratch.

    ``run`` is a Run or its folder, ``data`` the run's own unless given; the result is recorded
    in the run's metrics.json (section ``pretraining``, by the number of labels) unless
    ``record`` is False. The classifiers train on ``device``, wherever the run was trained.
    """
    run = load_run(run)
    data = run_data(run, data, data_dir)
    if data.test is None or data.test.labels is None:
        raise AutoencodeError(
            f"pretraining is scored on a labelled test split; {data.name!r} has none"
        )
    few = labelled_subset(data.train, labels, seed)
    n_classes = len(data.class_names) if data.class_names else int(data.train.labels.max()) + 1

    def train(model, n_epochs, rate):
        config = TrainingConfig(
            epochs=n_epochs, batch_size=batch_size, optimizer="adam", lr=rate, seed=seed
        )
        fit(*make_trainer(model, config, device, progress=progress), few)

    torch.manual_seed(seed)
    pretrained = Classifier.from_autoencoder(run.model, n_classes, pretrained=True)
    pretrained.freeze_encoder()
    train(pretrained, epochs, lr)
    frozen = accuracy(pretrained, data.test)
    pretrained.freeze_encoder(False)
    train(pretrained, fine_tune_epochs, lr / 10)

    torch.manual_seed(seed)
    scratch = Classifier.from_autoencoder(run.model, n_classes, pretrained=False)
    train(scratch, epochs + fine_tune_epochs, lr)
    result = {
        "labels": labels, "epochs": epochs, "fine_tune_epochs": fine_tune_epochs,
        "pretrained_frozen": frozen, "pretrained_fine_tuned": accuracy(pretrained, data.test),
        "scratch": accuracy(scratch, data.test), "n_test": len(data.test),
    }  # fmt: skip
    if record:
        run.folder.record("pretraining", result, key=str(labels))
    return result
