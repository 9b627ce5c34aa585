"""A prepare's plan: what it writes, worked out from the source, kept in ``DATA/.partial/``.

    .partial/plan.json    what ``identity`` is prepared (source, its listing, settings), the
                          rows' count and shape, class names, split ranges, the files left out
    .partial/state.json   the count of chunks written, and the rows that would not decode
    .partial/images.npy   (and labels.npy, files.txt) the files being written

The plan is written last when a prepare starts: a plan on disk means the rest is there, and a
prepare run again on the same source with the same settings goes on from it.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from autoencode.data import folders
from autoencode.data.arrays import load_array_file
from autoencode.data.prepared import FILES, IMAGES, LABELS, PARTIAL
from autoencode.errors import DataError, FileFormatError
from autoencode.io import create_npy, read_json, write_json, write_npy, write_text

PLAN, STATE = "plan.json", "state.json"


@dataclass(frozen=True)
class Work:
    """What a prepare writes: the rows' count and shape, labels, split ranges, each row's source
    (files.txt), and the chunks that produce the rows, each ``(array, [(row, error), ...])``."""

    identity: dict
    count: int
    image_shape: tuple[int, ...]
    labels: np.ndarray | None
    class_names: tuple[str, ...] | None
    splits: dict[str, list[int]]
    sources: list[str]
    skipped: list[tuple[str, str]]
    chunk: int


def read_partial(path: Path) -> dict:
    """A JSON file of an unfinished prepare; a damaged one says how to start again."""
    try:
        return read_json(path)
    except FileFormatError as e:
        raise DataError(f"{e}; pass --overwrite to start again") from None


def listing_digest(source: Path) -> str:
    """What a source is: each file's path, size and modification time."""
    paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for p in paths:
        stat = p.stat()
        digest.update(
            f"{p.relative_to(source.parent)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
        )
    return digest.hexdigest()


def make_plan(source: Path, identity: dict, settings: dict, mapper) -> Work:
    if source.is_dir():
        plan = folders.plan_folder(source, resize=settings["resize"] and tuple(settings["resize"]),
                                   skip_bad=settings["skip_bad"], mapper=mapper,
                                   valid_fraction=settings["valid_fraction"], seed=settings["seed"])  # fmt: skip
        n = len(plan.files)
        return Work(identity, n, plan.image_shape, plan.labels, plan.class_names,
                    {"valid": [0, plan.n_valid], "train": [plan.n_valid, n]},
                    [str(f.relative_to(source)) for f in plan.files], plan.skipped,
                    folders.CHUNK)  # fmt: skip
    data = load_array_file(source, settings["valid_fraction"])
    parts = [(name, s) for name in ("train", "valid", "test") if (s := getattr(data, name))]
    bounds = np.cumsum([0] + [len(s) for _, s in parts]).tolist()
    for name, split in parts:
        if split.images.shape[1:] != data.train.images.shape[1:]:
            raise DataError(f"{source}: {name} images are {split.images.shape[1:]}, train "
                            f"images {data.train.images.shape[1:]}; all must share one shape")  # fmt: skip
    labelled = [s.labels is not None for _, s in parts]
    if any(labelled) and not all(labelled):
        raise DataError(f"{source}: labels for some splits and not for others; prepared data "
                        "holds labels for all its images or for none")  # fmt: skip
    labels = np.concatenate([s.labels for _, s in parts]) if all(labelled) else None
    row_bytes = math.prod(data.train.images.shape[1:])
    return Work(identity, bounds[-1], data.train.images.shape[1:], labels, data.class_names,
                {name: bounds[i : i + 2] for i, (name, _) in enumerate(parts)}, [], [],
                max(1, (64 << 20) // row_bytes))  # fmt: skip


def write_plan(partial_dir: Path, work: Work) -> None:
    """A fresh ``.partial``: the files to fill (images all zeros), the state, then the plan."""
    if partial_dir.exists():
        shutil.rmtree(partial_dir)
    partial_dir.mkdir(parents=True)
    create_npy(partial_dir / IMAGES, (work.count, *work.image_shape))
    if work.labels is not None:
        write_npy(partial_dir / LABELS, work.labels)
    if work.sources:
        write_text(partial_dir / FILES, "".join(f"{s}\n" for s in work.sources))
    plan = {"identity": work.identity, "count": work.count, "image_shape": work.image_shape,
            "class_names": work.class_names, "splits": work.splits, "skipped": work.skipped,
            "chunk": work.chunk}  # fmt: skip
    write_json(partial_dir / STATE, {"done": 0, "bad": []})
    write_json(partial_dir / PLAN, plan)  # last: a plan on disk means the rest is there


def read_plan(out: Path, identity: dict) -> Work | None:
    """The plan of an unfinished prepare of the same thing; its labels and files list are in
    ``.partial`` (or already moved to ``out`` by a finish that a crash cut short)."""
    if not (out / PARTIAL / PLAN).is_file():
        return None
    plan = read_partial(out / PARTIAL / PLAN)
    if plan.get("identity") != identity:
        return None
    found = {name: next((p for p in (out / PARTIAL / name, out / name) if p.is_file()), None)
             for name in (LABELS, FILES)}  # fmt: skip
    labels = None if found[LABELS] is None else np.load(found[LABELS], allow_pickle=False)
    sources = [] if found[FILES] is None else found[FILES].read_text(encoding="utf-8").splitlines()
    names = plan["class_names"]
    return Work(identity, plan["count"], tuple(plan["image_shape"]), labels,
                None if names is None else tuple(names), plan["splits"], sources,
                [tuple(s) for s in plan["skipped"]], plan["chunk"])  # fmt: skip


def chunks(source: Path, work: Work, settings: dict, start: int, mapper) -> Iterator:
    """Chunk ``start`` onwards: ``(array, [(row in chunk, error), ...])``."""
    if work.sources:
        grey = len(work.image_shape) == 2
        size = (work.image_shape[1], work.image_shape[0])
        decode = partial(folders.decode, grey=grey, size=size, resize=bool(settings["resize"]))
        paths = [source / s for s in work.sources]
        yield from mapper(decode, folders.chunks(paths[start * work.chunk :], work.chunk))
        return
    data = load_array_file(source, settings["valid_fraction"])
    joined = _Joined([getattr(data, name).images for name in work.splits])
    for first in range(start * work.chunk, work.count, work.chunk):
        yield joined[first : first + work.chunk], []


class _Joined:
    """Rows of several arrays, one after the other, sliced without joining them in memory."""

    def __init__(self, parts: list[np.ndarray]):
        self.parts, self.bounds = parts, np.cumsum([0] + [len(p) for p in parts])

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop = rows.start, min(rows.stop, self.bounds[-1])
        pieces = []
        for part, lo, hi in zip(self.parts, self.bounds[:-1], self.bounds[1:], strict=True):
            if lo < stop and start < hi:
                pieces.append(part[max(start, lo) - lo : min(stop, hi) - lo])
        return np.concatenate(pieces)
