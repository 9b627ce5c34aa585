"""A live service on loopback (uvicorn in a thread, on a free port) over tiny runs: what the
service's tests share (import it; ``live_service`` is a fixture to assign in a test module)."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs the [serve] extra (part of [dev])")
httpx = pytest.importorskip("httpx", reason="part of the [dev] extra")


class LiveService:
    """A started service: its ``url``, its ``app`` and the runs' folders by name."""

    def __init__(self, runs, **settings):
        import uvicorn

        from autoencode.commands.serve import bind, build, run_names

        self.app = build(runs, **settings)
        self.runs = dict(zip(run_names(runs), runs, strict=True))
        sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="error", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)  # fmt: skip
        self.thread.start()
        self.client = httpx.Client(base_url=self.url, timeout=60)
        self.wait_ready()

    def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.client.get("/health").json()["ready"]:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError("the service did not get ready")

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(30)


def png_bytes(image: np.ndarray, **save) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", **save)
    return buffer.getvalue()


def npy_bytes(array: np.ndarray, **save) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **save)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def live_service(tiny_run):
    """The tiny stacked run (first: the default) and the tiny VAE, with small limits."""
    live = LiveService([tiny_run("stacked"), tiny_run("vae")], max_body=2**20, max_images=16,
                       max_pixels=4096 * 4096)  # fmt: skip
    yield live
    live.stop()
