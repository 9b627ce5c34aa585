"""Datasets: uint8 images with optional labels and class names, in train / valid / test splits.

Images stay uint8 in memory, ``(N, H, W)`` or ``(N, H, W, C)``; conversion to float happens per
batch on the training device. A dataset is named by a registry key (``fashion-mnist``) or by a
path to a ``.npz`` / ``.npy`` file.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from autoencode.data import folders, prepared, preparing, sources
from autoencode.data.arrays import load_array_file
from autoencode.data.idx import parse_idx
from autoencode.data.types import DataRef, Dataset, Split
from autoencode.errors import DataError

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def load_fashion_mnist(data_dir: str | Path | None = None, download: bool = True) -> Dataset:
    """Fashion-MNIST with the seed's splits: valid = first 5,000 of train, train = the other 55,000."""
    folder = sources.locate_fashion_mnist(data_dir, download=download)

    def read(name: str) -> np.ndarray:
        array = parse_idx(sources.fashion_mnist_file(folder, name), str(folder / name))
        wanted = np.uint8 if "images" in name else np.integer
        if not np.issubdtype(array.dtype, wanted):
            raise DataError(f"{folder / name}: expected {np.dtype(wanted).name if wanted is np.uint8 else 'integer'} "
                            f"values, the file holds {array.dtype}")  # fmt: skip
        return array

    train_images, train_labels = (
        read("train-images-idx3-ubyte.gz"),
        read("train-labels-idx1-ubyte.gz"),
    )
    test_images, test_labels = read("t10k-images-idx3-ubyte.gz"), read("t10k-labels-idx1-ubyte.gz")
    for part, images, labels in (
        ("train", train_images, train_labels),
        ("t10k", test_images, test_labels),
    ):
        if len(images) != len(labels):
            raise DataError(f"{folder}: {part} has {len(images)} images but {len(labels)} labels")
        if images.ndim != 3 or labels.ndim != 1:
            raise DataError(f"{folder}: {part} images must be (N, 28, 28) and labels (N,)")
    full = Split(train_images, train_labels.astype(np.int64))
    return Dataset(
        name="fashion-mnist",
        train=Split(full.images[5000:], full.labels[5000:]),
        valid=full.head(5000),
        test=Split(test_images, test_labels.astype(np.int64)),
        class_names=FASHION_MNIST_CLASSES,
        source=str(folder),
        kind="builtin",
    )


DATASETS: dict[str, Callable[..., Dataset]] = {"fashion-mnist": load_fashion_mnist}


def load_dataset(
    name: str | Path | DataRef | Dataset, data_dir: str | Path | None = None
) -> Dataset:
    """A dataset by registry name (``fashion-mnist``), a ``.npz`` / ``.npy`` file, a folder of
    images (one subfolder per class), prepared data (``autoencode prepare``), or a run's
    :class:`DataRef`; a Dataset is itself.

    A file is always read as that file, whatever its name: a ``fashion-mnist.npz`` of one's own
    images is not the built-in Fashion-MNIST.

    >>> data = load_dataset("fashion-mnist")
    >>> len(data.train), len(data.valid), len(data.test)
    (55000, 5000, 10000)
    """
    if isinstance(name, Dataset):
        return name
    if isinstance(name, DataRef):
        return _load_ref(name, data_dir)
    if str(name) in DATASETS:
        return DATASETS[str(name)](data_dir)
    if Path(name).suffix in (".npz", ".npy"):
        return load_array_file(name)
    if prepared.is_prepared(name):
        return prepared.load_prepared(name)
    if (Path(name) / prepared.PARTIAL).is_dir():
        raise DataError(f"{name}: an unfinished prepare; run it again to finish it")
    if Path(name).is_dir():
        return load_folder(name)
    known = ", ".join(sorted(DATASETS))
    raise DataError(
        f"unknown dataset {str(name)!r}: expected one of {known}, a .npz/.npy file or an image folder"
    )


def _load_ref(ref: DataRef, data_dir: str | Path | None) -> Dataset:
    """The data a run recorded, cut to the sizes it trained on."""
    if ref.kind == "memory":
        raise DataError(
            "the run was trained on arrays given in Python, which it cannot load again; "
            "pass the dataset ({parameter})",
            parameter="data",
        )
    if ref.kind == "builtin" and ref.location not in DATASETS:
        raise DataError(f"unknown built-in dataset {ref.location!r} in the run's config")
    loaders = {"builtin": lambda: DATASETS[ref.location](data_dir),
               "file": lambda: load_array_file(ref.location),
               "folder": lambda: load_folder(ref.location),
               "prepared": lambda: prepared.load_prepared(ref.location)}  # fmt: skip
    return loaders[ref.kind]().subset(ref.train_size, ref.valid_size)


IN_MEMORY_BYTES = 1 << 30  # a folder whose pixels take more is prepared on disk (cached) instead


def load_folder(path: str | Path) -> Dataset:
    """An image folder: decoded into memory when small, else through ``prepare`` into the user
    cache (once; again only when the folder's files change) and read memory-mapped."""
    path = Path(path)
    files, _, _ = folders.list_folder(path)
    first = folders.scan(files[:1])[0]  # its header's size; RGB assumed (the most it can take)
    most = 0 if isinstance(first, str) else len(files) * first[0] * first[1] * 3
    if most <= IN_MEMORY_BYTES:
        return folders.load_image_folder(path)
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    cached = sources.cache_root() / "prepared" / f"{path.name}-{key}"
    print(f"{path}: {len(files)} images, up to {most / 2**30:.1f} GiB of pixels; preparing "
          f"them once (autoencode prepare) in {cached}", file=sys.stderr)  # fmt: skip
    preparing.prepare(path, cached, overwrite=True)
    data = prepared.load_prepared(cached)
    return replace(data, name=path.name, source=str(path.resolve()), kind="folder")


SPLITS = ("train", "valid", "test", "all")


def named_images(dataset: Dataset, which: str, data_dir=None) -> tuple[Split, str, tuple | None]:
    """A split of ``dataset`` by name, or all the images of the dataset ``which`` names (a
    file or folder); with a name for it and its class names."""
    if which in SPLITS:
        return dataset.split(which), f"{dataset.name} {which}", dataset.class_names
    other = load_dataset(which, data_dir)
    return other.split("all"), f"{other.name} (all)", other.class_names
