"""Every hostile request gets a 4xx and one line of JSON; the service answers afterwards."""

import io
import json
import socket
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_live import live_service, npy_bytes, png_bytes

from conftest import synthetic_images

service = live_service

IMAGE = synthetic_images(1, seed=2)[0][0]
LIMIT = 2**20  # the live service's max_body


def decompression_bomb() -> bytes:
    """A 30 KB PNG whose header claims 6,000 × 6,000 pixels (36 M: over the 16.7 M limit)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (6000, 6000)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def npy_header(shape: tuple) -> bytes:
    """An .npy file's header claiming ``shape`` of uint8, without the data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "|u1", "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE = {  # name: (method, path, body, headers, expected status)
    "empty body": ("POST", "/embed", b"", {}, 400),
    "not an image": ("POST", "/embed", b"GIF89a but not really an image" * 3, {}, 415),
    "text": ("POST", "/score", "héllo wörld".encode(), {"content-type": "text/plain"}, 415),
    "truncated png": ("POST", "/embed", png_bytes(IMAGE)[:60], {}, 415),
    "wrong size": ("POST", "/embed", png_bytes(np.zeros((30, 28), np.uint8)), {}, 422),
    "wrong channels": ("POST", "/embed", png_bytes(np.zeros((28, 28, 3), np.uint8)), {}, 422),
    "16-bit of the wrong size": ("POST", "/embed", png_bytes(np.zeros((5, 5), np.uint16)), {}, 422),
    "decompression bomb": ("POST", "/embed", decompression_bomb(), {}, 413),
    "body over the limit": ("POST", "/embed", b"\0" * (LIMIT + 1), {}, 413),
    "npy garbage": ("POST", "/embed", b"\x93NUMPY\x01\x00garbage", {}, 400),
    "npy version 9": ("POST", "/embed", b"\x93NUMPY\x09\x00" + b"x" * 40, {}, 400),
    "npy of objects": ("POST", "/embed", npy_bytes(np.array([{"a": 1}], dtype=object), allow_pickle=True), {}, 422),
    "npy of strings": ("POST", "/embed", npy_bytes(np.array(["x"] * 784).reshape(28, 28)), {}, 422),
    "npy wrong shape": ("POST", "/embed", npy_bytes(np.zeros((3, 27, 28), np.uint8)), {}, 422),
    "npy too many images": ("POST", "/embed", npy_bytes(np.zeros((17, 28, 28), np.uint8)), {}, 413),
    "npy huge shape": ("POST", "/embed", npy_header((10**9, 28, 28)) + b"\0" * 64, {}, 413),
    "npy floats above 1": ("POST", "/embed", npy_bytes(np.full((28, 28), 2.0)), {}, 422),
    "npy nan": ("POST", "/embed", npy_bytes(np.full((28, 28), np.nan)), {}, 422),
    "npy empty": ("POST", "/embed", npy_bytes(np.zeros((0, 28, 28), np.uint8)), {}, 422),
    "json malformed": ("POST", "/embed", b'{"images": [1, 2', {}, 400),
    "json ragged": ("POST", "/embed", json.dumps([[1, 2], [3]]).encode(), {}, 422),
    "json deep": ("POST", "/embed", deep_json(100_000), {}, 400),
    "json strings": ("POST", "/embed", json.dumps([["a"] * 28] * 28).encode(), {}, 422),
    "json bools": ("POST", "/embed", json.dumps([[True] * 28] * 28).encode(), {}, 422),
    "json huge ints": ("POST", "/embed", json.dumps([[10**30] * 28] * 28).encode(), {}, 422),
    "json negative": ("POST", "/embed", json.dumps([[-1] * 28] * 28).encode(), {}, 422),
    "json other keys": ("POST", "/embed", b'{"pixels": []}', {}, 422),
    "json infinity": ("POST", "/embed", b"[[Infinity]]", {}, 422),
    "multipart without files": ("POST", "/embed", b"--b\r\nContent-Disposition: form-data; "
                                b'name="x"\r\n\r\n1\r\n--b--\r\n',
                                {"content-type": "multipart/form-data; boundary=b"}, 400),
    "multipart malformed": ("POST", "/embed", b"--b\r\ngarbage",
                            {"content-type": "multipart/form-data; boundary=b"}, 400),
    "multipart no boundary": ("POST", "/embed", b"x", {"content-type": "multipart/form-data"}, 400),
    "unknown run": ("POST", "/runs/nothing/embed", png_bytes(IMAGE), {}, 404),
    "unknown path": ("GET", "/../../etc/passwd", b"", {}, 404),
    "wrong method": ("GET", "/embed", b"", {}, 405),
    "k zero": ("POST", "/search?k=0", png_bytes(IMAGE), {}, 422),
    "k not a number": ("POST", "/search?k=many", png_bytes(IMAGE), {}, 422),
    "k huge": ("POST", "/search?k=99999999999999999999", png_bytes(IMAGE), {}, 422),
    "k over the search set": ("POST", "/search?k=65", png_bytes(IMAGE), {}, 422),
    "json too many numbers": ("POST", "/embed", b"[" + b"0," * (16 * 784) + b"0]", {}, 413),
    "n too many": ("POST", "/runs/vae/generate?n=100000", b"", {}, 422),
    "unknown format": ("POST", "/reconstruct?format=gif", png_bytes(IMAGE), {}, 422),
    "unknown sampler": ("POST", "/runs/vae/generate?sampler=..%2Fx", b"", {}, 409),
    "image out of range": ("GET", "/images/999999.png", b"", {}, 404),
    "negative image": ("GET", "/images/-1.png", b"", {}, 404),
}  # fmt: skip


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_request_gets_a_4xx_and_one_line(service, name):
    method, path, body, headers, status = HOSTILE[name]
    answer = service.client.request(method, path, content=body, headers=headers)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error and "\n" not in error and "Traceback" not in error
    assert service.client.get("/health").status_code == 200


def raw_request(service, data: bytes) -> bytes:
    """Bytes sent as they are on a fresh connection; what comes back before it closes."""
    port = int(service.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_chunked_body_over_the_limit_is_cut_off(service):
    chunk = b"\0" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // len(chunk) + 2))
    answer = raw_request(service, b"POST /embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + chunks + b"0\r\n\r\n")  # fmt: skip
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert service.client.get("/health").status_code == 200


def test_a_content_length_over_the_limit_is_refused_before_the_body(service):
    answer = raw_request(
        service, b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_garbage_http_is_not_a_crash(service):
    assert raw_request(service, b"\x00\xff garbage \r\n\r\n" * 10).startswith(b"HTTP/1.1 400")
    bad_length = b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"
    assert raw_request(service, bad_length).startswith(b"HTTP/1.1 4")
    raw_request(service, b"POST /embed HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort")
    assert service.client.get("/health").status_code == 200


def test_a_compressed_stream_is_not_decompressed_by_the_service(service):
    bomb = zlib.compress(b"\0" * 50_000_000)  # 49 KB that would be 50 MB
    answer = service.client.post("/embed", content=bomb, headers={"content-encoding": "deflate"})
    assert answer.status_code == 415


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(
    st.binary(max_size=4096),
    st.binary(max_size=512).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
    st.binary(max_size=512).map(lambda b: b"\x93NUMPY" + b),
    st.binary(max_size=512).map(lambda b: png_bytes(IMAGE)[:40] + b),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                 max_leaves=60).map(lambda v: json.dumps(v).encode()),
), path=st.sampled_from(["/embed", "/reconstruct", "/score", "/search", "/runs/vae/embed"]))  # fmt: skip
def test_fuzzed_bodies_get_a_4xx(service, body, path):
    answer = service.client.post(path, content=body)
    assert 400 <= answer.status_code < 500 or answer.status_code == 200, answer.text
    assert "error" in answer.json() or answer.status_code == 200


def test_the_service_still_answers_after_it_all(service):
    answer = service.client.post("/embed", content=png_bytes(IMAGE))
    assert answer.status_code == 200 and answer.json()["shape"] == [1, 30]
