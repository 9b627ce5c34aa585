"""Raw ``.npy`` files written in place: created sparse at their full size, then filled row by row
at an offset past the header (``os.pwrite``), with no array of all the rows in memory."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def create_npy(path: Path, shape: tuple[int, ...]) -> None:
    """A .npy file of uint8 zeros of ``shape`` (sparse: no pixels written yet)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|u1", "fortran_order": False, "shape": shape}
        )
        f.truncate(f.tell() + math.prod(shape))


def npy_offset(path: Path) -> int:
    """Where a .npy file's data starts: the size of its header."""
    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        return f.tell()
