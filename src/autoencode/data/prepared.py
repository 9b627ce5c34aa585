"""Prepared data: a dataset decoded once into a folder and read memory-mapped afterwards.

    DATA/manifest.json   format, source, count, image shape, class names, split ranges,
                         each file's size and SHA-256, the files left out (and why)
    DATA/images.npy      uint8 (N, H, W) or (N, H, W, C); ``np.load(..., mmap_mode="r")`` reads it
    DATA/labels.npy      int64 (N,), when the source has labels
    DATA/files.txt       for a folder: the source file of each row, relative to the folder

Each split is a contiguous range of rows, so a split is a slice of the mapped array. The work
goes on in ``DATA/.partial/``: the plan (order, labels, size) first, then the images chunk by
chunk, the count of chunks done recorded after each write; run again after a crash or Ctrl-C, it
goes on from there, and the result equals an uninterrupted run's. ``manifest.json`` is written
last: a folder without it is not prepared data.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import itertools
import math
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from autoencode.data import folders
from autoencode.data.arrays import load_array_file
from autoencode.data.types import Dataset, Split
from autoencode.errors import DataError, FileFormatError
from autoencode.io import atomic_write, read_json, write_json, write_npy, write_text

FORMAT = "autoencode-prepared"
VERSION = 1
MANIFEST, IMAGES, LABELS, FILES = "manifest.json", "images.npy", "labels.npy", "files.txt"
PARTIAL, PLAN, STATE, LOCK = ".partial", "plan.json", "state.json", ".lock"
OURS = {MANIFEST, IMAGES, LABELS, FILES, PARTIAL, LOCK}
SAVE_EVERY = 0.5  # seconds between records of the chunks done


def is_prepared(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


# -- reading ----------------------------------------------------------------------------------
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
        source=str(path.resolve()), kind="prepared",
    )  # fmt: skip


# -- writing ----------------------------------------------------------------------------------
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


def prepare(source: str | Path, out: str | Path, *, resize: tuple[int, int] | None = None,
            skip_bad: bool = False, workers: int | None = None, valid_fraction: float = 0.1,
            seed: int = 0, overwrite: bool = False, progress: bool = True) -> dict:  # fmt: skip
    """Decode an image folder (or copy a ``.npy`` / ``.npz`` file) into prepared data at ``out``;
    returns its manifest. Run again after an interruption, it goes on where it stopped; run
    again when finished, on the same source with the same settings, it returns at once."""
    source, out = Path(source), Path(out)
    _check_places(source, out, resize, skip_bad)
    settings = {"resize": resize and list(resize), "skip_bad": skip_bad,
                "valid_fraction": valid_fraction, "seed": seed}  # fmt: skip
    identity = {"source": str(source.resolve()), "listing": _listing_digest(source), **settings}
    with _locked(out):  # one prepare at a time in ``out`` (torchrun's processes, say)
        if done := _finished(out, identity, overwrite):
            return done
        partial_dir = out / PARTIAL
        with _pool(workers) as mapper:
            work = _resume_plan(out, identity)
            if work is None:
                work = _plan(source, identity, settings, mapper)
                _start(partial_dir, work)
            _write_images(partial_dir, work, source, settings, mapper, progress)
        return _finish(out, work)


def _check_places(source: Path, out: Path, resize, skip_bad: bool) -> None:
    if not source.exists():
        raise DataError(f"{source}: no such file or folder")
    if source.is_dir() and out.resolve().is_relative_to(source.resolve()):
        raise DataError(f"{out}: is inside the folder it would prepare, {source}; "
                        "choose a place outside it")  # fmt: skip
    if source.resolve().is_relative_to(out.resolve()):
        raise DataError(f"{source}: is inside {out}, where the prepared data would go; "
                        "choose another place for it")  # fmt: skip
    if source.is_file() and (resize or skip_bad):
        raise DataError("{parameter} is for image folders, not for a .npy/.npz file",
                        parameter="resize" if resize else "skip_bad")  # fmt: skip


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """An exclusive lock on ``out/.lock`` (where the system has ``flock``)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _read_json(path: Path) -> dict:
    try:
        return read_json(path)
    except FileFormatError as e:
        raise DataError(f"{e}; pass --overwrite to start again") from None


def _listing_digest(source: Path) -> str:
    """What a source is: each file's path, size and modification time."""
    paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for p in paths:
        stat = p.stat()
        digest.update(
            f"{p.relative_to(source.parent)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
        )
    return digest.hexdigest()


def _finished(out: Path, identity: dict, overwrite: bool) -> dict | None:
    """The manifest of a finished prepare of the same thing; a different one or an unfinished
    one of something else is refused unless ``overwrite``."""
    plan = out / PARTIAL / PLAN
    if not out.is_dir():
        return None
    if is_prepared(out):
        manifest = read_manifest(out)
        found = manifest.get("identity")
        if found == identity:
            shutil.rmtree(out / PARTIAL, ignore_errors=True)  # left by a crash after the manifest
            return manifest
    elif plan.is_file():
        found = _read_json(plan).get("identity")
    elif foreign := [p.name for p in out.iterdir() if p.name not in OURS and not _leftover(p)]:
        raise DataError(f"{out}: holds {foreign[0]}, not prepared data; choose another place")
    else:
        _clear(out)  # nothing, or what a prepare left before its plan was written
        return None
    if found != identity:
        if not overwrite:
            what = "prepared data" if is_prepared(out) else "an unfinished prepare"
            raise DataError(f"{out}: holds {what} of {(found or {}).get('source')} with other "
                            "files or settings; pass --overwrite to replace it")  # fmt: skip
        _clear(out)
    return None


def _leftover(path: Path) -> bool:
    """A temporary file of an atomic write that a crash left."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def _clear(out: Path) -> None:
    """Remove prepared data's files from ``out`` (and nothing else there)."""
    for name in (MANIFEST, IMAGES, LABELS, FILES):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / PARTIAL, ignore_errors=True)
    for path in out.iterdir():
        if _leftover(path) and path.is_file():
            path.unlink()


@contextlib.contextmanager
def _pool(workers: int | None) -> Iterator:
    """An ordered map over chunks: in this process for one worker, else a pool of processes
    (each ignoring Ctrl-C, which the main process handles), with a few chunks in flight."""
    workers = workers or _cpus()
    if workers <= 1:
        yield map
        return
    # fork on Linux: the workers run Pillow only, and need no ``if __name__ == "__main__"``
    context = get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=signal.signal,
                             initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:  # fmt: skip
        yield partial(_bounded_map, pool, window=2 * workers)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _bounded_map(pool, fn, items, window: int) -> Iterator:
    """``pool.map`` with at most ``window`` results waiting: decoded chunks do not pile up in
    memory when writing them is the slower side."""
    items, pending = iter(items), collections.deque()
    pending.extend(pool.submit(fn, item) for item in itertools.islice(items, window))
    while pending:
        result = pending.popleft().result()
        pending.extend(pool.submit(fn, item) for item in itertools.islice(items, 1))
        yield result


def _plan(source: Path, identity: dict, settings: dict, mapper) -> Work:
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


def _start(partial_dir: Path, work: Work) -> None:
    if partial_dir.exists():
        shutil.rmtree(partial_dir)
    partial_dir.mkdir(parents=True)
    _create_npy(partial_dir / IMAGES, (work.count, *work.image_shape))
    if work.labels is not None:
        write_npy(partial_dir / LABELS, work.labels)
    if work.sources:
        write_text(partial_dir / FILES, "".join(f"{s}\n" for s in work.sources))
    plan = {"identity": work.identity, "count": work.count, "image_shape": work.image_shape,
            "class_names": work.class_names, "splits": work.splits, "skipped": work.skipped,
            "chunk": work.chunk}  # fmt: skip
    write_json(partial_dir / STATE, {"done": 0, "bad": []})
    write_json(partial_dir / PLAN, plan)  # last: a plan on disk means the rest is there


def _resume_plan(out: Path, identity: dict) -> Work | None:
    """The plan of an unfinished prepare of the same thing; its labels and files list are in
    ``.partial`` (or already moved to ``out`` by a finish that a crash cut short)."""
    if not (out / PARTIAL / PLAN).is_file():
        return None
    plan = _read_json(out / PARTIAL / PLAN)
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


def _create_npy(path: Path, shape: tuple[int, ...]) -> None:
    """A .npy file of uint8 zeros of ``shape`` (sparse: no pixels written yet)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|u1", "fortran_order": False, "shape": shape}
        )
        f.truncate(f.tell() + math.prod(shape))


def _npy_offset(path: Path) -> int:
    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        return f.tell()


def _chunks(source: Path, work: Work, settings: dict, start: int, mapper) -> Iterator:
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


def _write_images(partial_dir: Path, work: Work, source: Path, settings: dict, mapper,
                  progress: bool) -> None:  # fmt: skip
    from tqdm.auto import tqdm

    state = _read_json(partial_dir / STATE)
    done, bad = state["done"], state["bad"]
    total = math.ceil(work.count / work.chunk)
    if done >= total:  # all written (the finish may have moved the file already)
        return
    if done and progress:
        print(f"{partial_dir.parent}: going on from image {min(done * work.chunk, work.count)} "
              f"of {work.count}, where an earlier prepare stopped", file=sys.stderr)  # fmt: skip
    path = partial_dir / IMAGES
    offset, row_bytes = _npy_offset(path), math.prod(work.image_shape)
    bar = tqdm(total=work.count, initial=min(done * work.chunk, work.count), unit="img",
               desc=f"preparing {partial_dir.parent}", disable=None if progress else True,
               mininterval=0.5, smoothing=0.1)  # fmt: skip
    saved = time.monotonic()
    with open(path, "r+b") as f, bar:
        for k, (array, errors) in enumerate(_chunks(source, work, settings, done, mapper), done):
            _write_chunk(f, offset + k * work.chunk * row_bytes, array)
            bad += [[k * work.chunk + i, message] for i, message in errors]
            if errors and not settings["skip_bad"]:
                raise folders.bad_image(errors[0][1])
            bar.update(len(array))
            if time.monotonic() - saved > SAVE_EVERY or k + 1 == total:
                os.fsync(f.fileno())  # the rows before the count that says they are there
                write_json(partial_dir / STATE, {"done": k + 1, "bad": bad})
                saved = time.monotonic()


def _write_chunk(f, position: int, array: np.ndarray) -> None:
    data = memoryview(np.ascontiguousarray(array)).cast("B")
    while data:  # pwrite may write less than asked
        written = os.pwrite(f.fileno(), data, position)
        data, position = data[written:], position + written


def _finish(out: Path, work: Work) -> dict:
    """The final files from the partial ones (without the bad rows), then the manifest."""
    partial_dir = out / PARTIAL
    state = _read_json(partial_dir / STATE)
    bad_rows = sorted(row for row, _ in state["bad"])
    keep = np.setdiff1d(np.arange(work.count), bad_rows)
    names = [IMAGES] + [LABELS] * (work.labels is not None) + [FILES] * bool(work.sources)
    if bad_rows:
        _compact(partial_dir, out, work, keep)
    else:
        for name in names:
            if (partial_dir / name).exists():
                os.replace(partial_dir / name, out / name)
    splits = {name: [int(np.searchsorted(keep, a)), int(np.searchsorted(keep, b))]
              for name, (a, b) in work.splits.items()}  # fmt: skip
    if empty := [name for name, (a, b) in splits.items() if a == b]:
        raise DataError(f"{work.identity['source']}: with its {len(bad_rows)} unreadable images "
                        f"left out, the {empty[0]} split has none; too few images")  # fmt: skip
    skipped = [*work.skipped, *[(work.sources[row], msg) for row, msg in state["bad"]]]
    manifest = {
        "format": FORMAT, "version": VERSION, "source": work.identity["source"],
        "count": len(keep), "image_shape": list(work.image_shape),
        "class_names": None if work.class_names is None else list(work.class_names),
        "splits": splits, "skipped": [{"file": f, "error": e} for f, e in skipped],
        "files": {name: _describe(out / name) for name in names}, "identity": work.identity,
    }  # fmt: skip
    write_json(out / MANIFEST, manifest)
    shutil.rmtree(partial_dir)
    return manifest


def _compact(partial_dir: Path, out: Path, work: Work, keep: np.ndarray) -> None:
    """The rows ``keep`` of the partial files into the final ones (each written atomically)."""

    images = np.load(partial_dir / IMAGES, mmap_mode="r")

    def copy(tmp: Path) -> None:
        _create_npy(tmp, (len(keep), *work.image_shape))
        offset = _npy_offset(tmp)
        with open(tmp, "r+b") as f:
            for start in range(0, len(keep), work.chunk):
                rows = images[keep[start : start + work.chunk]]
                _write_chunk(f, offset + start * rows[0].nbytes, rows)

    atomic_write(out / IMAGES, copy)
    if work.labels is not None:
        write_npy(out / LABELS, work.labels[keep])
    if work.sources:
        write_text(out / FILES, "".join(f"{work.sources[i]}\n" for i in keep))


def _describe(path: Path) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}
