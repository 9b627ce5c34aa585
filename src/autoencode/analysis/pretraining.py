"""When does unsupervised pretraining pay? A sweep over label counts, seeds and modes.

The run is the seed's phase 1: an autoencoder trained without labels. For each label count and
seed, one class-balanced draw of labelled training images is shared by every mode:

- ``frozen``: the run's encoder layers, copied and frozen, under a new dense softmax layer;
- ``finetune``: the same, every layer trained;
- ``scratch``: the same classifier freshly initialised (Keras' initialisation), every layer trained;
- ``pca``: no network: logistic regression on PCA features of the pixels (PCA fitted on every
  training image, without labels, as the autoencoder was; the number of components and the L2
  strength chosen on the validation images).

The three networks train with the same settings: Adam, the same learning rate, batch size and
budget (at most ``max_epochs`` epochs and ``max_images`` images seen), and the same early
stopping on the validation accuracy (checked about ``checks`` times, ``patience`` checks without
a gain end it, the best weights are kept). Test accuracy is measured on the whole test split.

Every finished cell is a row of ``RUN/pretrain/results.csv``; a sweep started again with the same
settings skips the cells it holds, and every cell depends on its (labels, seed, mode) alone, so
an interrupted sweep ends where an uninterrupted one does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from autoencode.analysis.metrics import linear_probe_accuracy, pca_features
from autoencode.analysis.sweep_record import MODES
from autoencode.data.batches import apply_in_batches
from autoencode.data.types import Dataset, Split
from autoencode.errors import AutoencodeError, DataError
from autoencode.models.classifier import Classifier
from autoencode.training.callbacks import EarlyStopping
from autoencode.training.config import TrainingConfig
from autoencode.training.setup import fit, make_trainer

LABEL_COUNTS = (100, 300, 1000, 3000, 10000)


@dataclass(frozen=True)
class SweepSettings:
    """How every network of the sweep trains; a sweep resumes only with the same settings."""

    lr: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 500
    max_images: int = 100_000
    checks: int = 20
    patience: int = 5
    valid_size: int = 1000
    pca_components: tuple[int, ...] = (10, 30, 100)  # the PCA baseline's choices, picked on
    pca_l2: tuple[float, ...] = (1e-4, 1e-2)  # the validation images

    def __post_init__(self):
        for name in ("batch_size", "max_epochs", "max_images", "checks", "patience", "valid_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise AutoencodeError(f"{{parameter}} must be a positive integer, got {value!r}",
                                      parameter=name)  # fmt: skip
        if not 0 < self.lr < 1e30:
            raise AutoencodeError(f"{{parameter}} must be a positive number, got {self.lr!r}",
                                  parameter="lr")  # fmt: skip
        if not self.pca_components or min(self.pca_components) < 1 or not self.pca_l2:
            raise AutoencodeError("{parameter} need at least one positive choice each",
                                  parameter="pca_components and pca_l2")  # fmt: skip

    def epochs(self, n: int) -> int:
        """The epoch budget for ``n`` labelled images."""
        return max(1, min(self.max_epochs, self.max_images // n))

    def check_every(self, n: int) -> int:
        return max(1, math.ceil(self.epochs(n) / self.checks))


def balanced_draw(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` images, as evenly spread over the classes as ``n`` allows: each class
    the same share (the remainder to classes drawn at random), a class with too few images all
    of them and the others more; sorted."""
    if not 0 < n <= len(labels):
        raise DataError(f"{{parameter}}: {n} labels asked for, there are {len(labels)}",
                        parameter="labels")  # fmt: skip
    classes, available = np.unique(labels, return_counts=True)
    rng = np.random.default_rng(seed)
    share, left = np.zeros(len(classes), dtype=np.int64), n
    room = rng.permutation(len(classes))  # the order in which classes get the remainder
    while left:
        room = room[share[room] < available[room]]
        each = left // len(room)
        if each == 0:
            share[room[:left]] += 1
            break
        added = np.minimum(each, available[room] - share[room])
        share[room] += added
        left -= int(added.sum())
    pools = [np.flatnonzero(labels == c) for c in classes]
    return np.sort(
        np.concatenate([rng.choice(p, k, replace=False) for p, k in zip(pools, share, strict=True)])
    )


def labelled_subset(split: Split, n: int, seed: int) -> Split:
    """``n`` class-balanced labelled examples of ``split`` (the few that get labels)."""
    if split.labels is None:
        raise AutoencodeError("pretraining needs a labelled train split")
    if not 0 < n <= len(split):
        raise AutoencodeError(f"{{parameter}} must be between 1 and {len(split)}, got {n}",
                              parameter="labels")  # fmt: skip
    pick = balanced_draw(split.labels, n, seed)
    return Split(split.images[pick], split.labels[pick])


@torch.inference_mode()
def accuracy(model: Classifier, split: Split, batch_size: int = 1000) -> float:
    model.eval()
    device = next(model.parameters()).device
    predictions = apply_in_batches(
        lambda x: model(x).logits.argmax(1), split.images, device, batch_size
    )
    return float((predictions.numpy() == split.labels).mean())


def train_classifier(run, mode: str, few: Split, valid: Split, n_classes: int,
                     settings: SweepSettings, seed: int,
                     device: str) -> tuple[Classifier, EarlyStopping, int]:  # fmt: skip
    """One classifier trained on ``few`` (the run's encoder copied unless ``scratch``, frozen
    for ``frozen``), early-stopped on ``valid``, with its best weights; the stopper and the
    epochs trained."""
    torch.manual_seed(seed)
    model = Classifier.from_autoencoder(run.model, n_classes, pretrained=mode != "scratch")
    model.freeze_encoder(mode == "frozen")
    config = TrainingConfig(epochs=settings.epochs(len(few)), batch_size=settings.batch_size,
                            optimizer="adam", lr=settings.lr, seed=seed)  # fmt: skip
    stopper = EarlyStopping(
        lambda m: accuracy(m, valid), settings.check_every(len(few)), settings.patience
    )
    trainer, placement = make_trainer(model, config, device, progress=False, callbacks=[stopper])
    fit(trainer, placement, few)
    model.load_state_dict(stopper.state)
    return model, stopper, trainer.epoch


def network_cell(run, mode: str, few: Split, valid: Split, test: Split, n_classes: int,
                 settings: SweepSettings, seed: int, device: str) -> dict:  # fmt: skip
    """``train_classifier``'s test accuracy, and how it got there."""
    model, stopper, epochs = train_classifier(run, mode, few, valid, n_classes, settings, seed,
                                              device)  # fmt: skip
    return {"test_accuracy": accuracy(model, test), "valid_accuracy": stopper.best,
            "best_epoch": stopper.best_epoch, "epochs_trained": epochs}  # fmt: skip


def pca_cell(features: dict[str, np.ndarray], labels: dict[str, np.ndarray], pick: np.ndarray,
             settings: SweepSettings, seed: int) -> dict:  # fmt: skip
    """Logistic regression on the first principal components of the drawn images; how many,
    and the L2 strength, chosen on the validation images."""
    y = labels["train"][pick]

    def probe(split: str, dims: int, l2: float) -> float:
        x, other = features["train"][pick, :dims], features[split][:, :dims]
        return linear_probe_accuracy(x, y, other, labels[split], l2=l2, seed=seed)

    choices = [(min(d, features["train"].shape[1]), l2)
               for d in settings.pca_components for l2 in settings.pca_l2]  # fmt: skip
    scores = [probe("valid", *choice) for choice in choices]
    best = int(np.argmax(scores))
    return {"test_accuracy": probe("test", *choices[best]), "valid_accuracy": scores[best],
            "components": choices[best][0], "l2": choices[best][1]}  # fmt: skip


def pca_inputs(data: Dataset, valid: Split, dims: int) -> tuple[dict, dict]:
    """The first ``dims`` principal components of every training image (fitted on them), the
    validation images and the test split."""

    def flat(images):
        return images.reshape(len(images), -1).astype(np.float32) / 255

    pixels = {"train": flat(data.train.images), "valid": flat(valid.images),
              "test": flat(data.test.images)}  # fmt: skip
    dims = min(dims, pixels["train"].shape[1])
    others = np.concatenate([pixels["valid"], pixels["test"]])
    train, projected = pca_features(pixels["train"], others, dims)
    features = {"train": train, "valid": projected[: len(valid)], "test": projected[len(valid) :]}
    return features, {"train": data.train.labels, "valid": valid.labels, "test": data.test.labels}


def check_sweep_data(data: Dataset, counts) -> int:
    """Refuse data the sweep cannot use; the number of classes."""
    for name in ("train", "valid", "test"):
        split = getattr(data, name)
        if split is None or split.labels is None or len(split) == 0:
            raise DataError(f"the label sweep needs labelled train, valid and test splits; "
                            f"{data.name!r} has no labelled {name!r} split")  # fmt: skip
        if np.min(split.labels) < 0:
            raise DataError(f"the label sweep needs class labels from 0; {data.name!r} has "
                            f"{int(np.min(split.labels))} in its {name!r} split")  # fmt: skip
    for n in counts:
        if not 0 < n <= len(data.train):
            raise AutoencodeError(f"{{parameter}}: each count must be between 1 and "
                                  f"{len(data.train)}, got {n}", parameter="labels")  # fmt: skip
    highest = max(int(np.max(s.labels)) for s in (data.train, data.valid, data.test))
    return max(len(data.class_names or ()), highest + 1)


def check_modes(modes) -> tuple[str, ...]:
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise AutoencodeError(f"{{parameter}}: expected some of {', '.join(MODES)}, "
                              f"got {','.join(modes) or 'none'}", parameter="modes")  # fmt: skip
    return tuple(dict.fromkeys(modes))


# -- the sweep -----------------------------------------------------------------------------


def cells(counts, seeds: range, modes) -> list[tuple[int, int, str]]:
    return [(n, s, mode) for n in counts for s in seeds for mode in modes]
