"""How good a generative model's samples are: the Fréchet distance and precision / recall
(Kynkäänniemi et al. 2019, k = 3) between features of generated and real images.

The features are the penultimate layer of a small classifier trained on the dataset's own labels
(Inception weights cannot be fetched here, and a domain classifier is the usual practice for
MNIST-like data). It is trained once per dataset and configuration and cached; its
configuration, checksum and test accuracy are reported beside every score. Beside the scores of
the samples stand the same scores of the test set against the training set: the floor.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autoencode.data.batches import apply_in_batches
from autoencode.data.types import Dataset, Split
from autoencode.errors import AutoencodeError
from autoencode.io import load_tensors, save_tensors
from autoencode.models.base import Output
from autoencode.models.layers import Conv, Dense
from autoencode.training.config import TrainingConfig
from autoencode.training.device import resolve_device
from autoencode.training.setup import fit, make_trainer


@dataclass(frozen=True)
class FeatureNetConfig:
    """The feature classifier: two conv + pool stages, a dense feature layer, a softmax head."""

    filters: tuple[int, int] = (32, 64)
    features: int = 128
    epochs: int = 3
    seed: int = 0


class FeatureNet(nn.Module):
    """Images to ``features`` (``encode``) and to class logits; trains with labels."""

    takes_labels = True
    memory_format = torch.channels_last

    def __init__(self, config: FeatureNetConfig, input_shape: tuple[int, int, int], classes: int):
        super().__init__()
        c, h, w = input_shape
        (f1, f2), n = config.filters, config.features
        self.body = nn.Sequential(
            Conv(c, f1, 3, "relu"), nn.MaxPool2d(2), Conv(f1, f2, 3, "relu"), nn.MaxPool2d(2),
            nn.Flatten(), Dense(f2 * (h // 4) * (w // 4), n, "relu"),
        )  # fmt: skip
        self.head = Dense(n, classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Output:
        features = self.body(x)
        logits = self.head(features)
        losses = {} if labels is None else {"cross_entropy": F.cross_entropy(logits, labels)}
        return Output(logits, features, losses)


def cache_folder() -> Path:
    from autoencode.data.sources import cache_dir

    return cache_dir().parent / "feature-classifiers"


def feature_classifier(data: Dataset, config: FeatureNetConfig = FeatureNetConfig(),
                       cache: str | Path | None = None, device: str = "auto",
                       progress: bool = False) -> tuple[FeatureNet, dict]:  # fmt: skip
    """The feature classifier for ``data``: from the cache, or trained on its training split
    (and cached). Returns the network and what to report beside a score: its configuration,
    the SHA-256 of its weights file and its accuracy on the test split."""
    if data.train.labels is None or data.test is None or data.test.labels is None:
        raise AutoencodeError(f"sample scores need labelled train and test splits; "
                              f"{data.name!r} has none")  # fmt: skip
    classes = int(max(data.train.labels.max(), data.test.labels.max())) + 1
    key = json.dumps(
        [asdict(config), data.ref.to_dict(), data.image_shape, classes], sort_keys=True
    )
    path = (
        Path(cache or cache_folder())
        / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.safetensors"
    )
    with torch.device("meta"):  # shapes only; the weights come from the file or from training
        net = FeatureNet(config, data.image_shape, classes)
    if path.is_file():
        expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        weights, meta = load_tensors(path, expected)
        net.to_empty(device=resolve_device(device)).load_state_dict(weights)
    else:
        torch.manual_seed(config.seed)
        net = FeatureNet(config, data.image_shape, classes)
        training = TrainingConfig(epochs=config.epochs, batch_size=128, optimizer="adam",
                                  lr=1e-3, seed=config.seed)  # fmt: skip
        fit(*make_trainer(net, training, device, progress=progress), data.train)
        meta = {"config": asdict(config), "data": data.ref.to_dict(),
                "test_accuracy": _accuracy(net, data.test)}  # fmt: skip
        save_tensors(path, net.state_dict(), meta)
    info = {**meta, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "path": str(path)}
    return net.eval(), info


@torch.inference_mode()
def _accuracy(net: FeatureNet, split: Split) -> float:
    net.eval()
    device = next(net.parameters()).device
    predicted = apply_in_batches(lambda x: net(x).logits.argmax(1), split.images, device)
    return float((predicted.numpy() == split.labels).mean())


@torch.inference_mode()
def features(net: FeatureNet, images: np.ndarray) -> np.ndarray:
    """Feature vectors of uint8 images, float64 ``(N, features)``."""
    net.eval()
    device = next(net.parameters()).device
    return apply_in_batches(net.encode, images, device).double().numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa − μb‖² + tr(Σa + Σb − 2 (Σa Σb)^½) between Gaussians fitted to two feature sets.

    tr((Σa Σb)^½) is computed as the sum of the square roots of the eigenvalues of
    Σa^½ Σb Σa^½ (symmetric, positive semi-definite): exact, and no complex round-off."""
    mu = a.mean(0) - b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    return float(mu @ mu + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def _kth_distances(x: torch.Tensor, k: int, chunk: int = 1000) -> torch.Tensor:
    """Each point's distance to its k-th nearest other point of the same set."""
    return torch.cat([torch.cdist(x[s : s + chunk], x).kthvalue(k + 1, dim=1).values
                      for s in range(0, len(x), chunk)])  # fmt: skip


def _covered(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
             chunk: int = 1000) -> float:  # fmt: skip
    """The fraction of ``points`` inside at least one ball (centre, radius)."""
    inside = [(torch.cdist(points[s : s + chunk], centres) <= radii[None, :]).any(1)
              for s in range(0, len(points), chunk)]  # fmt: skip
    return float(torch.cat(inside).float().mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Precision: the share of generated features inside the real features' manifold (balls to
    each real point's k-th neighbour); recall: the share of real ones inside the generated."""
    r, f = torch.from_numpy(real).float(), torch.from_numpy(fake).float()
    precision = _covered(f, r, _kth_distances(r, k))
    recall = _covered(r, f, _kth_distances(f, k))
    return precision, recall


def sample_scores(run, data: Dataset, n: int = 5000, seed: int = 0, cache=None,
                  device: str = "auto", sampler: str | None = None) -> dict:  # fmt: skip
    """Fréchet distance and precision / recall of ``n`` samples of ``run`` (from its prior, or
    from the fitted ``sampler``) against ``n`` test images, beside the floor (``n`` test images
    against ``n`` training images)."""
    net, info = feature_classifier(data, cache=cache, device=device)
    n = min(n, len(data.test), len(data.train))
    real, floor = _reference(net, info, data, n, seed)
    generated = np.rint(np.clip(run.sample(n, seed=seed, sampler=sampler), 0, 1) * 255).astype(
        np.uint8
    )
    fake = features(net, generated)
    precision, recall = precision_recall(real, fake)
    scores = {"frechet_distance": frechet_distance(real, fake), "precision": precision,
              "recall": recall}  # fmt: skip
    return {"n": n, "sampler": sampler or "prior", **scores, "floor": floor, "classifier": info}


_REFERENCES: dict[tuple, tuple] = {}  # the last few references, kept for the process


def _reference(net: FeatureNet, info: dict, data: Dataset, n: int, seed: int):
    """The features of ``n`` test images and the floor's scores (``n`` training images against
    them), drawn with ``seed``: computed once per classifier, data, ``n`` and seed in a process,
    since every sampler scored against the same data shares them."""
    key = (info["sha256"], id(data.test.images), id(data.train.images), n, seed)
    held = _REFERENCES.get(key)
    if held is not None and held[0] is data.test.images and held[1] is data.train.images:
        return held[2], held[3]
    pick = np.random.default_rng(seed)
    test = data.test.images[pick.permutation(len(data.test))[:n]]
    train = data.train.images[pick.permutation(len(data.train))[:n]]
    real, other = features(net, test), features(net, train)
    precision, recall = precision_recall(real, other)
    floor = {"frechet_distance": frechet_distance(real, other), "precision": precision,
             "recall": recall}  # fmt: skip
    if len(_REFERENCES) >= 4:
        _REFERENCES.pop(next(iter(_REFERENCES)))
    _REFERENCES[key] = (data.test.images, data.train.images, real, floor)
    return real, floor
