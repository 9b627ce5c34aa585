"""A strict reader for the IDX format (MNIST, Fashion-MNIST), gzip-compressed or raw.

The format: two zero bytes, a type code, the number of dimensions, then each dimension as a
big-endian uint32, then the data, big-endian. Anything else, including a file that is one byte
short or one byte long, is refused with a message that names the file.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from autoencode.errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"
_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_bytes(path: str | Path) -> bytes:
    """The file's content, decompressed when it is gzip; a damaged gzip is a DataError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: truncated or corrupt gzip file ({e})") from None


def parse_idx(content: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes into an array of the file's own type and shape."""
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in _TYPES:
        raise DataError(
            f"{name}: not an IDX file (bad magic number {content[:4].hex() or 'empty'})"
        )
    dtype, ndim = _TYPES[content[2]], content[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(content) < header:
        raise DataError(f"{name}: IDX header is truncated or declares {ndim} dimensions")
    shape = tuple(int(d) for d in np.frombuffer(content, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(content) != expected:
        raise DataError(
            f"{name}: IDX shape {shape} needs {expected} bytes, the file has {len(content)} "
            "(truncated or padded)"
        )
    data = np.frombuffer(content, dtype, offset=header).reshape(shape)
    return np.array(data, dtype=dtype.newbyteorder("="))  # a writable, native-order copy


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw) into a numpy array.

    >>> images = read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    >>> images.shape, images.dtype
    ((10000, 28, 28), dtype('uint8'))
    """
    return parse_idx(read_bytes(path), str(path))


def content_sha256(content: bytes) -> str:
    """SHA-256 of decompressed content, so a re-compressed copy of the same data still verifies."""
    return hashlib.sha256(content).hexdigest()
