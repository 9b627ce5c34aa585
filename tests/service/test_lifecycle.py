"""``autoencode serve`` as a process: it starts, says where it listens, and on SIGTERM stops
taking connections, answers the request in flight, and exits 0."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from service_live import png_bytes

from conftest import synthetic_images

pytest.importorskip("fastapi", reason="the service needs the [serve] extra (part of [dev])")


def start(run) -> tuple[subprocess.Popen, str, float]:
    """The service in a process of its own on a free port; its URL and the seconds until its
    health answered."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "autoencode", "serve", str(run), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    line = process.stdout.readline()
    found = re.search(r"at (http://127\.0\.0\.1:\d+) ", line)
    assert found, line + process.stderr.read()
    url = found.group(1)
    while True:
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return process, url, time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.02)
        assert process.poll() is None, process.stderr.read()


def test_sigterm_finishes_the_request_in_flight_then_exits_0(tiny_run):
    process, url, seconds = start(tiny_run("stacked"))
    print(f"serve answered its health check {seconds:.2f} s after the process started")
    try:
        body = png_bytes(synthetic_images(1, seed=1)[0][0])
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body[:20])  # fmt: skip
            time.sleep(0.3)  # the request is in flight: its headers read, its body not
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            with pytest.raises(httpx.TransportError):  # no new connections
                httpx.get(url + "/health", timeout=2)
            sock.sendall(body[20:])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        assert b'"shape":[1,30]' in answer
        assert process.wait(30) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)


@pytest.mark.parametrize(("args", "message"), [
    (["NOWHERE"], "NOWHERE"),
    (["RUN", "--port", "70000"], "--port must lie between 0 and 65535, got 70000"),
    (["RUN", "--max-body-mb", "0"], "--max-body-mb: expected a positive number"),
    (["RUN", "--host", "no.such.host.invalid"], "cannot listen on no.such.host.invalid:8000"),
])  # fmt: skip
def test_bad_arguments_are_one_line(tiny_run, tmp_path, capsys, args, message):
    from autoencode.cli.main import main

    run = str(tiny_run("stacked"))
    args = [run if a == "RUN" else str(tmp_path / a) if a == "NOWHERE" else a for a in args]
    assert main(["serve", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message.replace("NOWHERE", "") in err, err
