import gzip

import numpy as np
import pytest

from autoencode.data.idx import parse_idx, read_idx
from autoencode.errors import DataError
from conftest import idx_bytes, write_idx


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip(tmp_path, compress):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    got = read_idx(write_idx(tmp_path / "a", array, compress))
    assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, array)
    got[0, 0, 0] = 99  # the result is a writable array of its own


def test_other_types_are_read_big_endian():
    content = (
        bytes([0, 0, 0x0C, 1])
        + (2).to_bytes(4, "big")
        + (1).to_bytes(4, "big")
        + (-5).to_bytes(4, "big", signed=True)
    )
    np.testing.assert_array_equal(parse_idx(content), np.array([1, -5], dtype=np.int32))


def test_truncated_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((10, 28, 28), np.uint8)))[:-40])
    with pytest.raises(DataError, match=r"x\.gz: truncated or corrupt gzip"):
        read_idx(path)


@pytest.mark.parametrize("content, message", [
    (b"\x08\x03\x00\x00" + bytes(20), "bad magic number"),
    (b"\x00\x00\x42\x01" + bytes(8), "bad magic number"),
    (b"", "bad magic number empty"),
    (b"\x00\x00\x08\x03" + bytes(4), "header is truncated"),
])  # fmt: skip
def test_bad_headers(tmp_path, content, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("delta", [-1, 1])
def test_payload_of_the_wrong_size(tmp_path, delta):
    content = idx_bytes(np.zeros((3, 4, 4), np.uint8))
    content = content[:delta] if delta < 0 else content + b"\x00"
    path = tmp_path / "sized"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"needs 64 bytes, the file has (63|65)"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "nope.gz")
