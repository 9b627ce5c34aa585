"""Tiny synthetic datasets and IDX files that the tests write themselves; real data when present."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest

from autoencode.data.types import Dataset, Split


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array (the format's 0x08 type)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx(path, array: np.ndarray, compress: bool = True):
    content = idx_bytes(array)
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


def synthetic_images(n: int, seed: int = 0, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of 4 classes of bright bars/blocks with noise: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    images = rng.integers(0, 40, (n, size, size)).astype(np.uint8)
    q = size // 4
    for i, label in enumerate(labels):
        r, c = divmod(int(label), 2)
        images[i, r * 2 * q + q // 2 : r * 2 * q + q + q // 2, :] = 200 if c == 0 else 120
        images[i, :, c * 2 * q + q // 2 : c * 2 * q + q + q // 2] = 230
    return images, labels


@pytest.fixture
def tiny_data() -> Dataset:
    images, labels = synthetic_images(96)
    return Dataset("tiny", Split(images[32:], labels[32:]), Split(images[:32], labels[:32]),
                   Split(images[:16], labels[:16]), ("a", "b", "c", "d"))  # fmt: skip


@pytest.fixture
def tiny_npz(tmp_path) -> str:
    images, labels = synthetic_images(96)
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=images[32:], y_train=labels[32:], x_valid=images[:32], y_valid=labels[:32],
             x_test=images[:16], y_test=labels[:16], class_names=np.array(["a", "b", "c", "d"]))  # fmt: skip
    return str(path)


@pytest.fixture(scope="session")
def fashion_mnist() -> Dataset:
    """The real Fashion-MNIST; skipped where absent, but a failure in CI (which installs it)."""
    from autoencode.data.datasets import load_fashion_mnist
    from autoencode.errors import DataError

    try:
        return load_fashion_mnist(download=False)
    except DataError as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have Fashion-MNIST (apt-get install dataset-fashion-mnist): {e}")
        pytest.skip(f"Fashion-MNIST not installed here ({e})")
