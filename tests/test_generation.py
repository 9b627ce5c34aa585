"""Generative models: samples in [0, 1], of the right shape, reproducible, and not all alike."""

import numpy as np
import pytest

from autoencode.api import train
from autoencode.presets import PRESETS

GENERATIVE = [name for name, p in PRESETS.items() if name == "vae"]


@pytest.fixture(scope="module", params=GENERATIVE)
def run(request, tmp_path_factory):
    from autoencode.data.types import Dataset, Split
    from conftest import synthetic_images

    images, labels = synthetic_images(96)
    data = Dataset("tiny", Split(images[32:], labels[32:]), Split(images[:32], labels[:32]))
    return train(request.param, data, tmp_path_factory.mktemp("gen"), epochs=3, progress=False)


def test_samples(run):
    a, b = run.sample(12, seed=7), run.sample(12, seed=7)
    assert a.shape == (12, 28, 28) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, run.sample(12, seed=8))
    distinct = {a[i].tobytes() for i in range(12)}
    assert len(distinct) == 12 and np.std(a, axis=0).mean() > 1e-3


def test_interpolation_ends_at_the_reconstructions(run):
    from conftest import synthetic_images

    images, _ = synthetic_images(2, seed=5)
    strip = run.interpolate(images[0], images[1], steps=6)
    recon = run.reconstruct(images)
    assert strip.shape == (6, 28, 28)
    np.testing.assert_allclose(strip[0], recon[0], atol=1e-5)
    np.testing.assert_allclose(strip[-1], recon[1], atol=1e-5)
