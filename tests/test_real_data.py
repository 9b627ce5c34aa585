"""The real Fashion-MNIST: its splits, and a short training on a 2,000-image slice. Marked slow;
skipped where the data is absent, a failure in CI (which installs it; see conftest.py)."""

import numpy as np
import pytest

from autoencode.commands.train import train


@pytest.mark.slow
def test_real_splits(fashion_mnist):
    assert (len(fashion_mnist.train), len(fashion_mnist.valid), len(fashion_mnist.test)) == (
        55000,
        5000,
        10000,
    )
    assert fashion_mnist.train.images.dtype == np.uint8 and fashion_mnist.train.images.max() == 255
    assert np.bincount(fashion_mnist.test.labels).tolist() == [1000] * 10


@pytest.mark.slow
def test_stacked_learns_on_a_real_slice(fashion_mnist, tmp_path):
    data = fashion_mnist.subset(train=2000, valid=500)
    run = train("stacked", data, tmp_path / "run", epochs=3, progress=False)
    val = [row["val_loss"] for row in run.history]
    assert val[-1] < val[0] and val[-1] < 0.40, val
    recon = run.reconstruct(data.valid.images[:100])
    mse = float(np.mean((recon - data.valid.images[:100] / 255.0) ** 2))
    assert mse < 0.05, mse
