"""``autoencode serve``: runs behind an HTTP service (``autoencode.service``), on uvicorn.

The socket is bound before the application starts, so the address is known (``port=0``: any
free port) and connections wait in its backlog while the runs load. SIGTERM and SIGINT stop it
the way uvicorn stops: no new connections, the requests in flight answered (up to
``graceful_seconds``), then the batchers and the model's thread stopped; exit status 0.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from autoencode.errors import AutoencodeError, ConfigError
from autoencode.run import Run

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _require_serving():
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise AutoencodeError("serve needs the optional packages fastapi and uvicorn: "
                              "pip install 'autoencode[serve]'") from None  # fmt: skip
    return uvicorn


def run_names(runs: list) -> list[str]:
    """A name for each run: its folder's name, made unique with -2, -3, ... where two share one."""
    names: list[str] = []
    for run in runs:
        base = Path(run.path if isinstance(run, Run) else run).resolve().name or "run"
        name, i = base, 1
        while name in names:
            i += 1
            name = f"{base}-{i}"
        names.append(name)
    return names


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port``; one line naming the address if it is taken."""
    if not 0 <= port <= 65535:
        raise ConfigError(
            f"{{parameter}} must lie between 0 and 65535, got {port}", parameter="port"
        )
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as e:
        raise AutoencodeError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None


def build(runs: list, *, search_in: str = "train", device: str = "cpu", data_dir=None,
          **settings):  # fmt: skip
    """The application for ``runs`` (paths or Runs) with ``service.app.Settings(**settings)``."""
    _require_serving()
    from autoencode.service.app import Settings, create_app
    from autoencode.service.served import Served
    from autoencode.service.uploads import Limits

    if not runs:
        raise ConfigError("{parameter}: name at least one run folder", parameter="runs")
    limits = {k: settings.pop(k) for k in ("max_images", "max_pixels", "resize") if k in settings}
    served = [Served(name, run, search_in, device, data_dir)
              for name, run in zip(run_names(runs), runs, strict=True)]  # fmt: skip
    return create_app(served, Settings(limits=Limits(**limits), **settings))


def serve(runs: list, host: str = "127.0.0.1", port: int = 8000, *, search_in: str = "train",
          device: str = "cpu", data_dir=None, graceful_seconds: float = 30,
          on_listening: Callable[[str], None] | None = None, **settings) -> None:  # fmt: skip
    """Serve ``runs`` over HTTP until SIGTERM or SIGINT (see ``service.app`` for the endpoints
    and ``service.app.Settings`` for ``settings``: max_body, max_batch, max_wait, max_queue,
    token; max_images, max_pixels and resize of ``service.uploads.Limits``). ``on_listening``
    is called with the service's address once the socket is bound."""
    uvicorn = _require_serving()
    sock = bind(host, port)
    address = sock.getsockname()
    url = f"http://{'[' + address[0] + ']' if ':' in address[0] else address[0]}:{address[1]}"
    app = build(runs, search_in=search_in, device=device, data_dir=data_dir, **settings)
    if on_listening:
        on_listening(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            proxy_headers=False, timeout_graceful_shutdown=graceful_seconds)  # fmt: skip
    with _stopping_is_normal():
        uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def _stopping_is_normal():
    """uvicorn stops gracefully on SIGTERM and SIGINT, then raises the signal again with the
    handler it found; a handler that does nothing makes the stop a normal return (exit 0)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGTERM, signal.SIGINT)
    before = [signal.signal(s, lambda *_: None) for s in signals]
    try:
        yield
    finally:
        for s, handler in zip(signals, before, strict=True):
            signal.signal(s, handler)
