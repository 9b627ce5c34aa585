"""``autoencode interpolate``: images decoded along the line between two codings."""

from __future__ import annotations

from pathlib import Path

from autoencode.data.types import Dataset
from autoencode.errors import AutoencodeError
from autoencode.figures import save_figure, strip_figure
from autoencode.run import Run, load_run


def save_interpolation(run: Run | str | Path, between: tuple[int, int] = (0, 1),
                       data: Dataset | str | None = None, *, split: str = "valid", steps: int = 8,
                       out: str | Path | None = None, data_dir=None,
                       sampler: str | None = None, seed: int = 42) -> Path:  # fmt: skip
    """Images decoded from ``steps`` evenly spaced points between the codings of two images of
    a split (default RUN/figures/interpolation.png), or with ``sampler`` (a fitted sampler's
    name, or ``prior``) between two codings drawn from it (``seed``: the same two)."""
    run = load_run(run)
    if sampler is not None:
        ends = run.draw_codings(2, seed, sampler)
        strip = strip_figure(run.decode_line(ends, max(steps, 2)), f"two draws of the {sampler}")
        return save_figure(strip, out or run.folder.figure("interpolation"))
    images = run.load_dataset(data_dir, data=data).split(split).images
    for index in between:
        if not 0 <= index < len(images):
            raise AutoencodeError(f"{{parameter}}: index {index} is outside the {split} split "
                                  f"(0 to {len(images) - 1})", parameter="between")  # fmt: skip
    i, j = between
    strip = strip_figure(run.interpolate(images[i], images[j], max(steps, 2)), f"{split} {i} → {j}")
    return save_figure(strip, out or run.folder.figure("interpolation"))
