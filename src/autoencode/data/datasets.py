"""Datasets: uint8 images with optional labels and class names, in train / valid / test splits.

Images stay uint8 in memory, ``(N, H, W)`` or ``(N, H, W, C)``; conversion to float happens per
batch on the training device. A dataset is named by a registry key (``fashion-mnist``) or by a
path to a ``.npz`` / ``.npy`` file.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from autoencode.data import sources
from autoencode.data.folders import load_image_folder
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


def _as_uint8(array: np.ndarray, what: str) -> np.ndarray:
    """uint8 images from uint8, or from floats in [0, 1] (scaled and rounded)."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        if array.size and (np.nanmin(array) < 0 or np.nanmax(array) > 1 or np.isnan(array).any()):
            raise DataError(f"{what}: float images must lie in [0, 1]")
        return np.rint(array * 255).astype(np.uint8)
    raise DataError(f"{what}: images must be uint8 or float in [0, 1], got {array.dtype}")


def _split_off_valid(images, labels, valid_fraction: float):
    """valid = the first ``valid_fraction`` of the examples, as the seed does for Fashion-MNIST."""
    n_valid = max(1, round(len(images) * valid_fraction))
    if n_valid >= len(images):
        raise DataError(f"need at least 2 images to split off validation, got {len(images)}")
    head = None if labels is None else labels[:n_valid]
    tail = None if labels is None else labels[n_valid:]
    return Split(images[n_valid:], tail), Split(images[:n_valid], head)


def _check_npz_members(path: Path) -> None:
    """Each member's .npy header against the member's own size, before numpy allocates what the
    header claims (a 300-byte member can claim 73 GB); object arrays are refused."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)  # fmt: skip
                if read_header is None:
                    raise ValueError(f"member {info.filename}: .npy version {version} is not read")
                shape, _, dtype = read_header(member)
            if dtype.hasobject or math.prod(shape) * dtype.itemsize > info.file_size:
                raise ValueError(
                    f"member {info.filename} claims {dtype} {shape}, more than it holds"
                )


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a ``.npy`` (as ``x_train``) or ``.npz`` file, ``images``/``labels`` renamed
    ``x_train``/``y_train``; never unpickled."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        if zipfile.is_zipfile(path):
            _check_npz_members(path)
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            arrays = {"x_train": loaded}
        else:
            with loaded:
                arrays = {k: loaded[k] for k in loaded.files}
    except (OSError, ValueError, EOFError, MemoryError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable .npy/.npz file ({e})") from None
    if bad := [k for k, v in arrays.items() if not isinstance(v, np.ndarray)]:
        raise DataError(f"{path}: member {bad[0]!r} is not a .npy array")
    arrays.setdefault("x_train", arrays.pop("images", None))
    arrays.setdefault("y_train", arrays.pop("labels", None))
    if arrays["x_train"] is None:
        raise DataError(f"{path}: expected an array 'x_train' or 'images', found {sorted(arrays)}")
    return arrays


def load_array_file(path: str | Path, valid_fraction: float = 0.1) -> Dataset:
    """A dataset from a ``.npy`` (images only) or ``.npz`` file.

    ``.npz`` keys follow Keras' ``mnist.npz``: ``x_train`` (required), ``y_train``, ``x_valid``,
    ``y_valid``, ``x_test``, ``y_test``; or a single ``images`` (+ ``labels``). Optional
    ``class_names``. Without ``x_valid``, the first ``valid_fraction`` of train is held out.
    """
    path = Path(path)
    arrays = _read_arrays(path)

    def split(prefix: str) -> Split | None:
        images = arrays.get(f"x_{prefix}")
        if images is None:
            return None
        if len(images) == 0:
            raise DataError(f"{path}[x_{prefix}]: no images")
        labels = arrays.get(f"y_{prefix}")
        labels = None if labels is None else np.asarray(labels).astype(np.int64)
        return Split(_as_uint8(images, f"{path}[x_{prefix}]"), labels)

    train, valid = split("train"), split("valid")
    if valid is None:
        train, valid = _split_off_valid(train.images, train.labels, valid_fraction)
    names = arrays.get("class_names")
    return Dataset(
        name=path.stem,
        train=train,
        valid=valid,
        test=split("test"),
        class_names=None if names is None else tuple(str(n) for n in names),
        source=str(path.resolve()),  # the run folder finds it again from anywhere
        kind="file",
    )


DATASETS: dict[str, Callable[..., Dataset]] = {"fashion-mnist": load_fashion_mnist}


def load_dataset(name: str | Path | DataRef, data_dir: str | Path | None = None) -> Dataset:
    """A dataset by registry name (``fashion-mnist``), a ``.npz`` / ``.npy`` file, a folder of
    images (one subfolder per class), or a run's :class:`DataRef`.

    A file is always read as that file, whatever its name: a ``fashion-mnist.npz`` of one's own
    images is not the built-in Fashion-MNIST.

    >>> data = load_dataset("fashion-mnist")
    >>> len(data.train), len(data.valid), len(data.test)
    (55000, 5000, 10000)
    """
    if isinstance(name, DataRef):
        return _load_ref(name, data_dir)
    if str(name) in DATASETS:
        return DATASETS[str(name)](data_dir)
    if Path(name).suffix in (".npz", ".npy"):
        return load_array_file(name)
    if Path(name).is_dir():
        return load_image_folder(name)
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
               "folder": lambda: load_image_folder(ref.location)}  # fmt: skip
    return loaders[ref.kind]().subset(ref.train_size, ref.valid_size)
