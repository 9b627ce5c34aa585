"""The HTTP service: a FastAPI application (on Starlette; served by uvicorn) over served runs.

Endpoints (``/runs/NAME/...`` for a run by name; without the prefix, the first run):

- ``POST /embed``, ``/reconstruct``, ``/score``, ``/search?k=8``: a body of one image (PNG,
  JPEG, ...), an .npy array or JSON (``{"images": [...]}`` or a bare array), or a multipart form
  of such files; answered in JSON (``/reconstruct?format=png|npy`` too);
- ``POST /generate?n=8&seed=0&sampler=gmm&format=json|png|npy``;
- ``GET /images/INDEX.png``: an image of the set searched in (the page shows neighbours so);
- ``GET /health``, ``GET /runs``, ``GET /openapi.json``, and ``GET /``: a page to drop an image
  on and see its reconstruction, score and neighbours.

Every error is a status and one line of JSON, ``{"error": "..."}``: 400/415/422 for a body that
is not what was expected, 404 for an unknown run or image, 413 for a body or image over the
limits, 401 without the token, 503 when the queue is full (with Retry-After), 409 when a run
cannot do what was asked (no data to search in on this machine, no sampler of that name).
Swagger's page is off: it loads its scripts from a CDN, which an offline machine cannot reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from autoencode.errors import AutoencodeError
from autoencode.service.batching import Batcher, Busy
from autoencode.service.served import MAX_GENERATE, MAX_K, Served
from autoencode.service.uploads import Limits, RequestError, images_from_body

BATCHED = ("embed", "reconstruct", "score", "search")
FORMATS = ("json", "png", "npy")
OPEN_PATHS = ("/", "/health", "/openapi.json")  # answered without the token
BODY = {  # what the batched endpoints take, for the OpenAPI description
    "requestBody": {
        "required": True,
        "content": {
            **{t: {"schema": {"type": "string", "format": "binary"}}
               for t in ("image/png", "image/jpeg", "application/x-npy")},
            "application/json": {"schema": {"oneOf": [
                {"type": "object", "properties": {"images": {"type": "array"}}},
                {"type": "array"}]}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "image": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
        },
    }
}  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """How the service runs: limits, batching, the token."""

    max_body: int = 16 * 2**20  # bytes of one request's body
    limits: Limits = field(default_factory=Limits)
    max_batch: int = 256  # images a batch runs at most; 1: batching off
    max_wait: float = 0.002  # seconds a batch that is not full waits for more
    max_queue: int = 1024  # requests waiting for each function of each run; then 503
    token: str | None = None  # required as "Authorization: Bearer TOKEN" when set


def create_app(runs: list[Served], settings: Settings | None = None) -> FastAPI:
    """The ASGI application serving ``runs`` (the first is the default one)."""
    service = _Service(runs, settings or Settings())
    app = FastAPI(title="autoencode", summary="Codings of images: embed, reconstruct, score, "
                  "search and generate with trained autoencoders.", lifespan=service.lifespan,
                  docs_url=None, redoc_url=None)  # fmt: skip
    app.state.batchers = service.batchers  # their counts, for tests and monitoring
    _errors(app)
    app.add_middleware(_Guard, settings=service.settings)
    for prefix in ("", "/runs/{name}"):
        app.post(prefix + "/embed", openapi_extra=BODY, summary="codings of images")(service.embed)
        app.post(prefix + "/reconstruct", openapi_extra=BODY,
                 summary="reconstructions")(service.reconstruct)  # fmt: skip
        app.post(prefix + "/score", openapi_extra=BODY,
                 summary="anomaly scores and flags")(service.score)  # fmt: skip
        app.post(prefix + "/search", openapi_extra=BODY,
                 summary="nearest images by coding")(service.search)  # fmt: skip
        app.post(prefix + "/generate",
                 summary="new images from the prior or a sampler")(service.generate)  # fmt: skip
        app.get(prefix + "/images/{index}.png",
                summary="an image of the set searched in")(service.image)  # fmt: skip
    app.get("/health", summary="whether the service answers, and what each run can do")(
        service.health
    )
    app.get("/runs", summary="the runs served")(service.describe)
    app.get("/", include_in_schema=False)(service.page)
    return app


class _Service:
    """The runs, their batchers and the model's thread; each endpoint is a method."""

    def __init__(self, runs: list[Served], settings: Settings):
        self.runs, self.settings = runs, settings
        self.by_name = {served.name: served for served in runs}
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="autoencode-model")
        self.batchers = {
            (served.name, fn): Batcher(getattr(served, fn), self.executor,
                                       max_batch=settings.max_batch, max_wait=settings.max_wait,
                                       max_queue=settings.max_queue)
            for served in runs for fn in BATCHED
        }  # fmt: skip
        self.html = _page()

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        for batcher in self.batchers.values():
            batcher.start()
        loop = asyncio.get_running_loop()
        warming = [loop.run_in_executor(None, served.prepare) for served in self.runs]
        # What is loaded stays: out of the collector's sight, a full collection no longer walks
        # torch's and the runs' objects at every turn (measured: 1.4× the throughput at 64
        # clients, p99 latency from 152 to 45 ms); again once the search sets are made.
        gc.freeze()
        asyncio.gather(*warming, return_exceptions=True).add_done_callback(lambda _: gc.freeze())
        yield
        for batcher in self.batchers.values():
            await batcher.stop()
        await asyncio.gather(*warming, return_exceptions=True)
        self.executor.shutdown(wait=True)

    def served(self, name: str | None) -> Served:
        if name is None:
            return self.runs[0]
        if name not in self.by_name:
            raise RequestError(404, f"no run called {name!r}; serving {', '.join(self.by_name)}")
        return self.by_name[name]

    async def batched(self, request: Request, name: str | None, fn: str, option=None):
        """The request's images through the run's batcher of ``fn``: the run and the result."""
        run = self.served(name)
        if fn in ("score", "search"):
            _reference(run, fn)
        batcher = self.batchers[(run.name, fn)]
        with batcher.arriving_request():
            if request.headers.get("content-type", "").startswith("multipart/form-data"):
                images = await _form_images(request, run, self.settings.limits)
            else:
                images = images_from_body(await request.body(), run.shape, self.settings.limits)
        try:
            return run, await batcher(images, option)
        except AutoencodeError as e:  # what the model's side refused of these images
            raise RequestError(422, e.worded()) from None
        except Busy:
            raise RequestError(503, f"busy: {self.settings.max_queue} requests are waiting; "
                                    "try again") from None  # fmt: skip

    async def embed(self, request: Request, name: str | None = None):
        _, codings = await self.batched(request, name, "embed")
        return _json({"codings": codings.tolist(), "shape": list(codings.shape)})

    async def reconstruct(self, request: Request, name: str | None = None, format: str = "json"):
        _check_format(format)
        _, images = await self.batched(request, name, "reconstruct")
        return _images_response(images, format)

    async def score(self, request: Request, name: str | None = None):
        run, out = await self.batched(request, name, "score")
        s = run.reference.scoring_settings
        return _json({"score": out["score"].tolist(), "flagged": out["flagged"].tolist(),
                      "reconstruction": out["reconstruction"].tolist(),
                      "codings_distance": out["codings_distance"].tolist(),
                      "rule": s["by"], "k": s["k"], "threshold": s["threshold"],
                      "fpr": s["fpr"]})  # fmt: skip

    async def search(self, request: Request, name: str | None = None, k: int = 8):
        most = min(MAX_K, len(_reference(self.served(name), "search").codings))
        if not 1 <= k <= most:  # checked here: in a batch, one request's k is everyone's
            raise RequestError(422, f"k must lie between 1 and {most}, got {k}")
        run, (indices, distances) = await self.batched(request, name, "search", k)
        return _json({"in": run.reference.described,
                      "neighbours": [_neighbours(run, i, d) for i, d in
                                     zip(indices, distances, strict=True)]})  # fmt: skip

    async def generate(self, name: str | None = None, n: int = 8, seed: int | None = None,
                       sampler: str | None = None, format: str = "json"):  # fmt: skip
        _check_format(format)
        if not 1 <= n <= MAX_GENERATE:
            raise RequestError(422, f"n must lie between 1 and {MAX_GENERATE}, got {n}")
        run = self.served(name)
        try:
            images = await asyncio.get_running_loop().run_in_executor(
                self.executor, run.generate, n, seed, sampler)  # fmt: skip
        except AutoencodeError as e:
            raise RequestError(409, e.worded()) from None
        return _images_response(images, format)

    async def image(self, index: int, name: str | None = None):
        reference = _reference(self.served(name), "search")
        if not 0 <= index < len(reference.images):
            raise RequestError(404, f"no image {index}: the set searched in has "
                                    f"{len(reference.images)}")  # fmt: skip
        return Response(_png(reference.images[index]), media_type="image/png",
                        headers={"Cache-Control": "max-age=3600"})  # fmt: skip

    async def health(self):
        queued = sum(b.queue.qsize() for b in self.batchers.values())
        return _json({"status": "ok", "ready": all(r.ready.is_set() for r in self.runs),
                      "token_required": self.settings.token is not None, "queued": queued,
                      "batching": {"max_batch": self.settings.max_batch,
                                   "max_wait_ms": self.settings.max_wait * 1000},
                      "runs": [r.name for r in self.runs]})  # fmt: skip

    async def describe(self):
        return _json({"runs": [r.describe() for r in self.runs]})

    async def page(self):
        return HTMLResponse(self.html)


# -- requests and answers ----------------------------------------------------------------------
def _reference(run: Served, fn: str):
    """The run's search set and scorer, or a RequestError saying why there are none (yet)."""
    if not run.ready.is_set():
        raise RequestError(503, f"{run.name} is still preparing its search set and scorer; "
                                "try again in a few seconds")  # fmt: skip
    if run.reference is None:
        raise RequestError(409, f"{run.name} cannot {fn}: {run.reference_error}")
    if fn == "score" and run.reference.scoring is None:
        raise RequestError(409, f"{run.name} cannot score: {run.reference.scoring_error}")
    return run.reference


async def _form_images(request: Request, run: Served, limits: Limits) -> np.ndarray:
    """The images of a multipart form's files, joined."""
    try:
        form = await request.form(max_files=limits.max_images, max_fields=16)
    except (AssertionError, ValueError, KeyError) as e:
        raise RequestError(400, f"not a readable multipart form ({e})") from None
    except HTTPException as e:
        raise RequestError(e.status_code, f"not a readable multipart form ({e.detail})") from None
    files = [v for _, v in form.multi_items() if hasattr(v, "read")]
    if not files:
        raise RequestError(400, "a multipart form without files: send the image as a file")
    arrays = [images_from_body(await f.read(), run.shape, limits) for f in files]
    if sum(map(len, arrays)) > limits.max_images:
        raise RequestError(413, f"more than {limits.max_images} images in one request")
    return np.concatenate(arrays)


def _neighbours(run: Served, indices: np.ndarray, distances: np.ndarray) -> list[dict]:
    reference, found = run.reference, []
    for index, distance in zip(indices.tolist(), distances.tolist(), strict=True):
        row = {"index": index, "distance": distance}
        if reference.labels is not None:
            label = int(reference.labels[index])
            names = reference.class_names or ()
            row |= {"label": label, "class": names[label] if label < len(names) else str(label)}
        found.append(row)
    return found


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise RequestError(422, f"format must be one of {', '.join(FORMATS)}, got {format!r}")


def _images_response(images: np.ndarray, format: str) -> Response:
    """Images in [0, 1]: JSON, an .npy file (float32), or a PNG (several side by side)."""
    if format == "png":
        strip = np.concatenate(list(images), axis=1)
        return Response(_png(np.rint(np.clip(strip, 0, 1) * 255).astype(np.uint8)),
                        media_type="image/png")  # fmt: skip
    if format == "npy":
        buffer = io.BytesIO()
        np.save(buffer, images.astype(np.float32), allow_pickle=False)
        return Response(buffer.getvalue(), media_type="application/x-npy")
    return _json({"images": images.tolist(), "shape": list(images.shape)})


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _json(content: dict, status: int = 200, headers: dict | None = None) -> Response:
    body = json.dumps(content, separators=(",", ":"), allow_nan=False).encode()
    return Response(body, status, headers, media_type="application/json")


def _error(status: int, message: str) -> Response:
    headers = {"Retry-After": "1"} if status == 503 else None
    return _json({"error": message}, status, headers)


def _errors(app: FastAPI) -> None:
    """Every error as a status and one line of JSON."""

    @app.exception_handler(RequestError)
    async def request_error(request, e: RequestError):
        return _error(e.status, e.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, e: RequestValidationError):
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return _error(422, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(HTTPException)
    async def http_error(request, e: HTTPException):
        return _error(e.status_code, str(e.detail))

    @app.exception_handler(Exception)
    async def unexpected(request, e: Exception):  # a bug: one line, and the service goes on
        return _error(500, f"internal error: {type(e).__name__}: {str(e)[:200]}")


class _Guard:
    """ASGI middleware: the bearer token (where set), and the body's size limit, checked on
    Content-Length before anything is read and counted as the body arrives (chunked too)."""

    def __init__(self, app, settings: Settings):
        self.app, self.settings = app, settings
        self.expected = f"Bearer {settings.token}".encode() if settings.token else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if (
            self.expected
            and scope["path"] not in OPEN_PATHS
            and not hmac.compare_digest(headers.get(b"authorization", b""), self.expected)
        ):
            return await _send(send, 401, "a bearer token is required: Authorization: Bearer TOKEN")
        limit = self.settings.max_body
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await _send(send, 413, f"the body is over the limit of {limit} bytes")
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise RequestError(413, f"the body is over the limit of {limit} bytes")
            return message

        await self.app(scope, limited, send)


async def _send(send, status: int, message: str) -> None:
    response = _error(status, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(response.body)).encode()),
                            (b"connection", b"close")]})  # fmt: skip
    await send({"type": "http.response.body", "body": response.body})


def _page() -> str:
    """The drop page: page/serve.html with its script and style inline."""
    folder = resources.files("autoencode") / "page"
    html = (folder / "serve.html").read_text(encoding="utf-8")
    return (html.replace("/*STYLE*/", (folder / "serve.css").read_text(encoding="utf-8"))
                .replace("/*SCRIPT*/", (folder / "serve.js").read_text(encoding="utf-8")))  # fmt: skip
