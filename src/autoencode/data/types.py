"""The data types: a dataset's splits of uint8 images and labels, and a reference to the data that
a run folder records so that later commands load the same data again."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autoencode.errors import ConfigError, DataError

DATA_KINDS = ("builtin", "file", "folder", "prepared", "memory")


@dataclass(frozen=True)
class DataRef:
    """A run's data: a built-in dataset's name or a file's / folder's absolute path, and how many
    training and validation examples (the first ones) the run used."""

    kind: str
    location: str
    train_size: int | None = None
    valid_size: int | None = None

    def __post_init__(self):
        if self.kind not in DATA_KINDS:
            raise ConfigError(
                f"data kind must be one of {', '.join(DATA_KINDS)}, got {self.kind!r}"
            )
        if not isinstance(self.location, str):
            raise ConfigError(f"data location must be a string, got {self.location!r}")
        for size in (self.train_size, self.valid_size):
            if size is not None and (
                isinstance(size, bool) or not isinstance(size, int) or size < 1
            ):
                raise ConfigError(f"data sizes must be positive integers, got {size!r}")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "location": self.location,
                "train_size": self.train_size, "valid_size": self.valid_size}  # fmt: skip

    @classmethod
    def from_dict(cls, data) -> DataRef:
        """From a run's ``config.json``; also reads the first format's ``{"dataset": name or path}``."""
        if not isinstance(data, dict):
            raise ConfigError(f"data must be a JSON object, got {data!r}")
        sizes = {k: data.get(k) for k in ("train_size", "valid_size")}
        if "kind" in data:
            return cls(data["kind"], data.get("location"), **sizes)
        old = data.get("dataset")
        if not isinstance(old, str):
            raise ConfigError(f"data needs a kind and a location, got {data!r}")
        if not old:
            return cls("memory", "", **sizes)
        if not Path(old).is_absolute():
            return cls("builtin", old, **sizes)
        return cls("file" if Path(old).suffix in (".npz", ".npy") else "folder", old, **sizes)

    def describe(self) -> str:
        return {"builtin": self.location, "memory": "arrays given in Python"}.get(
            self.kind, f"{self.kind} {self.location}"
        )


@dataclass(frozen=True)
class Split:
    """Images (uint8) and, when known, their integer labels."""

    images: np.ndarray
    labels: np.ndarray | None = None

    def __post_init__(self):
        if self.images.dtype != np.uint8 or self.images.ndim not in (3, 4):
            raise DataError(
                f"images must be uint8 of shape (N, H, W) or (N, H, W, C), "
                f"got {self.images.dtype} {self.images.shape}"
            )
        if self.labels is not None and len(self.labels) != len(self.images):
            raise DataError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.images)

    def head(self, n: int) -> Split:
        """The first ``n`` examples."""
        labels = None if self.labels is None else self.labels[:n]
        return Split(self.images[:n], labels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``, the layout models take."""
        shape = self.images.shape
        return (1, *shape[1:3]) if len(shape) == 3 else (shape[3], shape[1], shape[2])


@dataclass(frozen=True)
class Dataset:
    """Named splits of one dataset, with class names where the labels have them."""

    name: str
    train: Split
    valid: Split
    test: Split | None = None
    class_names: tuple[str, ...] | None = None
    source: str = ""  # a built-in dataset's folder, or the file or folder the data came from
    kind: str = "memory"  # how to load it again: builtin, file, folder, prepared; memory: arrays from Python
    # Every image in the data's own order, when it has one to give without a copy (prepared
    # data: the mapped file's rows, row i = files.txt line i): what ``split("all")`` returns.
    rows: Split | None = None

    def split(self, name: str) -> Split:
        """One split by name: ``train``, ``valid``, ``test``, or ``all`` of them together:
        valid, train, test (70,000 for Fashion-MNIST), or for prepared data the file's rows in
        order, memory-mapped (a million images are not copied into memory)."""
        if name == "all" and self.rows is not None:
            return self.rows
        if name == "all":
            parts = [s for s in (self.valid, self.train, self.test) if s is not None]
            labels = None
            if all(s.labels is not None for s in parts):
                labels = np.concatenate([s.labels for s in parts])
            return Split(np.concatenate([s.images for s in parts]), labels)
        split = {"train": self.train, "valid": self.valid, "test": self.test}.get(name)
        if split is None:
            raise DataError(f"dataset {self.name!r} has no {name!r} split ({{parameter}})",
                            parameter="split")  # fmt: skip
        return split

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.train.image_shape

    def subset(self, train: int | None = None, valid: int | None = None) -> Dataset:
        """The same dataset with only the first ``train`` / ``valid`` examples (quick runs)."""
        return Dataset(
            self.name,
            self.train if train is None else self.train.head(train),
            self.valid if valid is None else self.valid.head(valid),
            self.test,
            self.class_names,
            self.source,
            self.kind,
            self.rows if train is None and valid is None else None,
        )

    @property
    def ref(self) -> DataRef:
        """Where this data comes from, for a run folder to load it again."""
        location = self.name if self.kind == "builtin" else self.source
        return DataRef(self.kind, location, len(self.train), len(self.valid))
