"""``.npy`` / ``.npz`` files as datasets, read without unpickling; a ``.npy`` file memory-mapped."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from autoencode.data.types import Dataset, Split
from autoencode.errors import DataError


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
        if zipped := zipfile.is_zipfile(path):
            _check_npz_members(path)
        loaded = np.load(path, allow_pickle=False, mmap_mode=None if zipped else "r")
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
