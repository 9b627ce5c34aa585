"""A strict reader for the IDX format (MNIST, Fashion-MNIST), gzip-compressed or raw.

The format: two zero bytes, a type code, the number of dimensions, then each dimension as a
big-endian uint32, then the data, big-endian. Anything else, including a file that is one byte
short or one byte long, is refused with a message that names the file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import zlib
from pathlib import Path

import numpy as np

from autoencode.errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"
# The most content an IDX file may hold: twice EMNIST's largest file (547 MB), 21 times
# Fashion-MNIST's. A file from someone else cannot make the reader allocate more.
MAX_CONTENT = 1 << 30
_TOO_LARGE = f"more than {MAX_CONTENT:,} bytes, the most an IDX file may hold"
_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_bytes(path: str | Path) -> bytes:
    """The file's content, decompressed when it is gzip; a damaged gzip is a DataError, and so is
    content over ``MAX_CONTENT`` (a small gzip file can expand to any size: it is refused once
    the decompressed part passes the limit, not after all of it is in memory)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CONTENT:
            raise DataError(f"{path}: {_TOO_LARGE}")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    content = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            while chunk := f.read(1 << 24):
                content += chunk
                if len(content) > MAX_CONTENT:
                    raise DataError(f"{path}: decompressed, {_TOO_LARGE}")
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: truncated or corrupt gzip file ({e})") from None
    return bytes(content)


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
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: np.prod can overflow
    if len(content) != expected:
        raise DataError(
            f"{name}: IDX shape {shape} needs {expected} bytes, the file has {len(content)} "
            "(truncated or padded)"
        )
    try:
        data = np.frombuffer(content, dtype, offset=header).reshape(shape)
    except ValueError:  # more than 64 dimensions, or empty with sides too large to index
        raise DataError(f"{name}: numpy cannot hold an array of IDX shape {shape}") from None
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
