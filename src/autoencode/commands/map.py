"""``autoencode map``: a 2-D map of a split's codings, its coordinates and trustworthiness."""

from __future__ import annotations

import hashlib
from pathlib import Path

from autoencode.analysis.embedding import check_map_method, codings_map, map_provenance
from autoencode.data.types import Dataset
from autoencode.figures import map_figure, save_figure
from autoencode.io import write_npy
from autoencode.run import Run, load_run


def save_map(run: Run | str | Path, data: Dataset | str | None = None, *, method: str = "tsne",
             split: str = "valid", seed: int = 42, thumbnails: bool = False,
             out: str | Path | None = None, data_dir=None) -> dict:  # fmt: skip
    """A 2-D map of a split's codings, coloured by class (default RUN/figures/map_<method>.png
    for the validation split, map_<method>_<split>.png for another),
    its coordinates beside it as ``.npy``, and its trustworthiness (k = 10) recorded in
    metrics.json (section ``maps``). Returns the map's numbers and both paths."""
    check_map_method(method)  # before any work
    run = load_run(run)
    dataset = run.load_dataset(data_dir, data=data)
    chosen = dataset.split(split)
    result = codings_map(run, chosen, method, seed)
    png = Path(out or run.folder.map_file(method, split))
    title = f"{method} map of the {split} codings ({run.config.name})"
    figure = map_figure(result["coords"], chosen.labels, dataset.class_names,
                        chosen.images if thumbnails else None, title)  # fmt: skip
    save_figure(figure, png)
    coords = write_npy(png.with_suffix(".npy"), result["coords"])
    scores = {"trustworthiness": result["trustworthiness"], "seconds": result["seconds"]}
    record = dict(scores)
    if coords.resolve().is_relative_to(run.path.resolve()):
        # where the coordinates are and what they were drawn from, for `explore` to reuse them
        record["coords"] = str(coords.resolve().relative_to(run.path.resolve()))
        record["coords_sha256"] = hashlib.sha256(coords.read_bytes()).hexdigest()
        record |= map_provenance(run, chosen.images, seed)
    run.folder.record("maps", record, key=f"{method}_{split}")
    return {**scores, "points": len(chosen), "figure": png, "coords": coords}
