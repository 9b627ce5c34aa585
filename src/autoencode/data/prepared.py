"""Prepared data: a dataset decoded once into a folder and read memory-mapped afterwards.

    DATA/manifest.json   format, source, count, image shape, class names, split ranges,
                         each file's size and SHA-256, the files left out (and why)
    DATA/images.npy      uint8 (N, H, W) or (N, H, W, C); ``np.load(..., mmap_mode="r")`` reads it
    DATA/labels.npy      int64 (N,), when the source has labels
    DATA/files.txt       for a folder: the source file of each row, relative to the folder

Each split is a contiguous range of rows, so a split is a slice of the mapped array. This module
reads prepared data; :mod:`autoencode.data.preparing` writes it, its unfinished work in
``DATA/.partial/``. ``manifest.json`` is written last: a folder without it is not prepared data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autoencode.data.types import Dataset, Split
from autoencode.errors import DataError, FileFormatError
from autoencode.io import read_json

FORMAT = "autoencode-prepared"
VERSION = 1
MANIFEST, IMAGES, LABELS, FILES = "manifest.json", "images.npy", "labels.npy", "files.txt"
PARTIAL = ".partial"  # an unfinished prepare's work


def is_prepared(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_manifest(path: str | Path) -> dict:
    where = Path(path) / MANIFEST
    try:
        manifest = read_json(where)
    except FileFormatError as e:
        raise DataError(str(e)) from None
    if manifest.get("format") != FORMAT:
        raise DataError(f"{where}: not an autoencode prepared-data manifest")
    if manifest.get("version") != VERSION:
        raise DataError(f"{where}: format version {manifest.get('version')!r}, "
                        f"this autoencode reads version {VERSION}")  # fmt: skip
    return manifest


def load_prepared(path: str | Path) -> Dataset:
    """Prepared data as a :class:`Dataset` whose splits are slices of the memory-mapped images."""
    path = Path(path)
    manifest = read_manifest(path)
    try:
        return _load(path, manifest)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{path / MANIFEST}: damaged ({type(e).__name__}: {e})") from None


def _load(path: Path, manifest: dict) -> Dataset:
    for name, entry in manifest["files"].items():
        size = (path / name).stat().st_size if (path / name).is_file() else None
        if size != entry["bytes"]:
            raise DataError(f"{path / name}: expected {entry['bytes']} bytes as the manifest "
                            f"says, found {'no file' if size is None else size}")  # fmt: skip
    try:
        images = np.load(path / IMAGES, mmap_mode="r", allow_pickle=False)
        labels = np.load(path / LABELS, allow_pickle=False) if LABELS in manifest["files"] else None
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not readable prepared data ({e})") from None
    if images.dtype != np.uint8 or images.shape != (manifest["count"], *manifest["image_shape"]):
        raise DataError(f"{path / IMAGES}: holds {images.dtype} {images.shape}, the manifest "
                        f"says uint8 ({manifest['count']}, {manifest['image_shape']})")  # fmt: skip

    def split(name: str) -> Split | None:
        if name not in manifest["splits"]:
            return None
        start, stop = manifest["splits"][name]
        if not 0 <= start < stop <= len(images):
            raise ValueError(f"split {name} is rows {start}:{stop} of {len(images)}")
        return Split(images[start:stop], None if labels is None else labels[start:stop])

    names = manifest.get("class_names")
    return Dataset(
        name=Path(manifest["source"]).stem or path.name, train=split("train"),
        valid=split("valid"), test=split("test"), class_names=None if names is None else tuple(names),
        source=str(path.resolve()), kind="prepared", rows=Split(images, labels),
    )  # fmt: skip
