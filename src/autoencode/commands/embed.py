"""``autoencode embed``: the codings of a split, as a file."""

from __future__ import annotations

from pathlib import Path

from autoencode.analysis.embedding import embed, write_codings
from autoencode.data.types import Dataset
from autoencode.run import Run, load_run


def save_codings(run: Run | str | Path, data: Dataset | str | None = None, *,
                 split: str = "valid", out: str | Path | None = None, data_dir=None,
                 progress: bool = False) -> tuple[Path, tuple[int, int]]:  # fmt: skip
    """The codings of a split as ``.npy`` (N, D) or ``.csv`` with a label column (default
    RUN/codings_<split>.npy); returns the path and the array's shape."""
    run = load_run(run)
    chosen = run.load_dataset(data_dir, data=data).split(split)
    codings = embed(run, chosen.images, progress=progress)
    path = write_codings(out or run.folder.codings_file(split), codings, chosen.labels)
    return path, codings.shape
