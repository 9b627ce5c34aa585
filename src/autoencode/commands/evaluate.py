"""``autoencode evaluate``: the report card of a run on its test split."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from autoencode.analysis.embedding import embed
from autoencode.analysis.metrics import (
    knn_accuracy,
    linear_probe_accuracy,
    pca_features,
    reconstruction_metrics,
)  # fmt: skip
from autoencode.analysis.sample_quality import sample_scores
from autoencode.data.batches import apply_in_batches, noisy_images
from autoencode.data.types import Dataset, Split
from autoencode.errors import AutoencodeError
from autoencode.models.likelihood import bounds
from autoencode.models.objectives import Variational
from autoencode.run import Run, load_run

# k = 1000 on the 10,000 test images with the seed's dense VAE: 56 s on one CPU core, 100
# images at a time (their draws decoded as ``models.likelihood.MAX_VALUES`` allows: 53 a pass).
NLL_SAMPLES = 1000
NLL_BATCH = 100


def evaluate(run,  # long: a third of it is the signature and the docstring
             data: Dataset | str | None = None, baselines: bool = True, k: int = 5, *,
             noise: float = 0.0, samples: int = 5000, data_dir=None, record: bool = True,
             split: str = "test", nll_samples: int = NLL_SAMPLES) -> dict:  # fmt: skip
    """The report card on the test split (or ``split="valid"``, for data without one):
    reconstruction BCE / MSE / PSNR, then k-NN and linear-probe accuracy of the codings (trained
    on train), of PCA with as many components, and of raw pixels; with the trustworthiness of the
    maps drawn for the run. ``run`` is a Run or its folder; ``data`` the run's own unless given.
    Recorded in the run's metrics.json (section ``evaluation``) unless ``record`` is False. With
    ``noise``, also the reconstructions of the test images with Gaussian noise of that standard
    deviation, scored against the clean images (``noisy_inputs``: what a denoising autoencoder
    is for). A generative run also gets ``samples``: Fréchet distance and precision / recall of
    that many generated images (``analysis.sample_quality``; 0 skips them). A variational run
    (``variational`` or a subclass, ``iwae`` say) gets ``likelihood``: its negative
    log-likelihood and negative ELBO in nats per image, ``nll_samples`` importance draws per
    image (``likelihood``; 0 skips it). Without labels, the card holds the reconstructions (and
    the likelihood) alone."""
    run = load_run(run)
    data = run.load_dataset(data_dir, data=data)
    if split not in ("test", "valid"):
        raise AutoencodeError(f"{{parameter}}: expected test or valid, got {split!r}",
                              parameter="split")  # fmt: skip
    if split == "test" and data.test is None:
        raise AutoencodeError(f"dataset {data.name!r} has no test split; score the validation "
                              "split instead ({parameter} valid)", parameter="split")  # fmt: skip
    if nll_samples < 0:
        raise AutoencodeError(f"{{parameter}} must be >= 0 (0 skips the likelihood), got "
                              f"{nll_samples}", parameter="nll_samples")  # fmt: skip
    train, test = data.train, data.split(split)
    card: dict = {
        "split": split,
        f"n_{split}": len(test),
        **reconstruction_metrics(test.images, run.reconstruct(test.images)),
    }
    if nll_samples and has_likelihood(run):
        card["likelihood"] = likelihood(run, test.images, nll_samples)
    if noise > 0:
        denoised = run.reconstruct(noisy_images(test.images, noise))
        card["noisy_inputs"] = {"noise": noise, **reconstruction_metrics(test.images, denoised)}
    if train.labels is not None and test.labels is not None:
        z_train, z_test = embed(run, train.images), embed(run, test.images)
        card["codings"] = _classifiers(z_train, train.labels, z_test, test.labels, k)
        if baselines:
            card.update(_baselines(train, test, z_train.shape[1], k))
        if samples and run.model.generative:  # the features are a classifier of the labels
            card["samples"] = sample_scores(run, dataclasses.replace(data, test=test), samples)
    maps = run.folder.read_metrics().get("maps", {})
    card["maps"] = {name: m["trustworthiness"] for name, m in maps.items()
                    if isinstance(m, dict) and m.get("trustworthiness") is not None}  # fmt: skip
    if record:
        run.folder.record("evaluation", card)
    return card


def has_likelihood(run: Run) -> bool:
    """Whether ``likelihood`` scores the run: a variational objective with the bce loss."""
    objective = run.model.objective
    return isinstance(objective, Variational) and objective.loss == "bce"


def likelihood(run: Run, images: np.ndarray, samples: int = NLL_SAMPLES, seed: int = 0,
               batch_size: int = NLL_BATCH) -> dict:  # fmt: skip
    """A variational run's fit to uint8 ``images`` (of its shape), in nats per image averaged
    over them: ``nll``, the importance-sampled −log p(x) with ``samples`` draws per image
    (``models.likelihood``; tighter as they grow), and ``negative_elbo``, −E_q[log p(x|z)] +
    KL(q(z|x) ‖ p(z)) with the KL term analytic and the expectation over the same draws (the
    seed VAE's loss, BCE + KL/784, times the pixels; in expectation ``nll`` at one draw). The
    draws come from a generator seeded with ``seed`` on the run's device, ``batch_size``
    images at a time: the same arguments on the same device, the same numbers."""
    run._check(images)  # the run's own check of shape and dtype, as encode makes it
    if samples < 1:
        raise AutoencodeError(f"the likelihood needs at least one draw per image, got {samples}")
    model = run.model.eval()
    generator = torch.Generator(run.device).manual_seed(seed)

    def both(x: torch.Tensor) -> torch.Tensor:
        return torch.stack(bounds(model, x, samples, generator=generator), 1)

    values = apply_in_batches(both, images, run.device, batch_size).double().mean(0)
    return {"nll": float(values[0]), "negative_elbo": float(values[1]), "samples": samples,
            "images": len(images), "seed": seed}  # fmt: skip


def _baselines(train: Split, test: Split, dims: int, k: int) -> dict:
    """The same classifiers on PCA with ``dims`` components, and on raw pixels."""
    pixels_train = train.images.reshape(len(train), -1).astype(np.float32) / 255
    pixels_test = test.images.reshape(len(test), -1).astype(np.float32) / 255
    n_components = min(dims, pixels_train.shape[1])
    p_train, p_test = pca_features(pixels_train, pixels_test, n_components)
    return {f"pca{n_components}": _classifiers(p_train, train.labels, p_test, test.labels, k),
            "pixels": _classifiers(pixels_train, train.labels, pixels_test, test.labels, k)}  # fmt: skip


def _classifiers(train_x, train_y, test_x, test_y, k: int) -> dict[str, float]:
    return {
        "dims": train_x.shape[1],
        f"knn{k}": knn_accuracy(train_x, train_y, test_x, test_y, k),
        "linear_probe": linear_probe_accuracy(train_x, train_y, test_x, test_y),
    }
