"""Preparing data: decode an image folder (or copy a ``.npy`` / ``.npz`` file) once into the
layout :mod:`autoencode.data.prepared` reads.

The work goes on in ``DATA/.partial/``: the plan (order, labels, size, see
:mod:`autoencode.data.prepare_plan`) first, then the images chunk by chunk, the count of chunks
done recorded after each write; run again after a crash or Ctrl-C, it goes on from there, and the
result equals an uninterrupted run's. ``manifest.json`` is written last: a folder without it is
not prepared data.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from autoencode.data import folders, prepare_plan
from autoencode.data.pool import ordered_map
from autoencode.data.prepare_plan import PLAN, STATE, Work, listing_digest, read_partial
from autoencode.data.prepared import (
    FILES,
    FORMAT,
    IMAGES,
    LABELS,
    MANIFEST,
    PARTIAL,
    VERSION,
    is_prepared,
    read_manifest,
)
from autoencode.errors import DataError
from autoencode.io import (
    atomic_write,
    create_npy,
    npy_offset,
    write_json,
    write_npy,
    write_text,
    writing,
)

LOCK = ".lock"
OURS = {MANIFEST, IMAGES, LABELS, FILES, PARTIAL, LOCK}
SAVE_EVERY = 0.5  # seconds between records of the chunks done


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
    identity = {"source": str(source.resolve()), "listing": listing_digest(source), **settings}
    with _locked(out):  # one prepare at a time in ``out`` (torchrun's processes, say)
        if done := _finished(out, identity, overwrite):
            return done
        partial_dir = out / PARTIAL
        with ordered_map(workers) as mapper:
            work = prepare_plan.read_plan(out, identity)
            if work is None:
                work = prepare_plan.make_plan(source, identity, settings, mapper)
                prepare_plan.write_plan(partial_dir, work)
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
        found = read_partial(plan).get("identity")
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


def _write_images(partial_dir: Path, work: Work, source: Path, settings: dict, mapper,
                  progress: bool) -> None:  # fmt: skip
    from tqdm.auto import tqdm

    state = read_partial(partial_dir / STATE)
    done, bad = state["done"], state["bad"]
    total = math.ceil(work.count / work.chunk)
    if done >= total:  # all written (the finish may have moved the file already)
        return
    if done and progress:
        print(f"{partial_dir.parent}: going on from image {min(done * work.chunk, work.count)} "
              f"of {work.count}, where an earlier prepare stopped", file=sys.stderr)  # fmt: skip
    path = partial_dir / IMAGES
    offset, row_bytes = npy_offset(path), math.prod(work.image_shape)
    bar = tqdm(total=work.count, initial=min(done * work.chunk, work.count), unit="img",
               desc=f"preparing {partial_dir.parent}", disable=None if progress else True,
               mininterval=0.5, smoothing=0.1)  # fmt: skip
    saved = time.monotonic()
    chunks = prepare_plan.chunks(source, work, settings, done, mapper)
    with writing(path), open(path, "r+b") as f, bar:
        for k, (array, errors) in enumerate(chunks, done):
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
    state = read_partial(partial_dir / STATE)
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
        create_npy(tmp, (len(keep), *work.image_shape))
        offset = npy_offset(tmp)
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
