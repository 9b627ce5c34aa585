"""The service answers what the library answers: codings, reconstructions, scores, neighbours and
samples, from every kind of body; batched; behind a token when one is set."""

import asyncio
import io
import json
import threading

import numpy as np
import pytest
from service_live import LiveService, live_service, npy_bytes, png_bytes

import autoencode as ae
from conftest import synthetic_images

service = live_service

httpx = pytest.importorskip("httpx")


@pytest.fixture(scope="module")
def images():
    return synthetic_images(6, seed=11)[0]


@pytest.fixture(scope="module")
def run(service):
    return ae.load_run(service.runs["stacked"])


def bodies(images):
    """The same images as each kind of body the service takes."""
    return {
        "png": (png_bytes(images[0]), images[:1]),
        "npy": (npy_bytes(images), images),
        "npy floats": (npy_bytes((images / 255).astype(np.float32)), images),
        "json": (json.dumps({"images": images.tolist()}).encode(), images),
        "bare json": (json.dumps(images[0].tolist()).encode(), images[:1]),
        "npy channel last": (npy_bytes(images[..., None]), images),
    }


@pytest.mark.parametrize("kind", list(bodies(synthetic_images(6, seed=11)[0])))
def test_embed_takes_every_kind_of_body(service, run, images, kind):
    body, sent = bodies(images)[kind]
    answer = service.client.post("/embed", content=body)
    assert answer.status_code == 200, answer.text
    got = answer.json()
    np.testing.assert_allclose(got["codings"], run.encode(sent), atol=1e-5)
    assert got["shape"] == [len(sent), 30]


def test_a_multipart_form_of_files(service, run, images):
    files = [("image", (f"{i}.png", png_bytes(im), "image/png")) for i, im in enumerate(images[:3])]
    answer = service.client.post("/runs/stacked/embed", files=files)
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(answer.json()["codings"], run.encode(images[:3]), atol=1e-5)


def test_reconstruct_in_each_format(service, run, images):
    from PIL import Image

    expected = run.reconstruct(images[:2])
    body = npy_bytes(images[:2])
    as_json = service.client.post("/reconstruct", content=body).json()
    np.testing.assert_allclose(as_json["images"], expected, atol=1e-6)
    as_npy = np.load(
        io.BytesIO(service.client.post("/reconstruct?format=npy", content=body).content)
    )
    np.testing.assert_allclose(as_npy, expected, atol=1e-6)
    png = service.client.post("/reconstruct?format=png", content=body)
    assert png.headers["content-type"] == "image/png"
    strip = np.asarray(Image.open(io.BytesIO(png.content)))
    assert strip.shape == (28, 56)  # the two side by side
    np.testing.assert_allclose(
        strip / 255, np.concatenate(list(expected), 1), atol=0.5 / 255 + 1e-6
    )


def test_score_is_autoencode_score(service, images):
    folder = service.runs["stacked"]
    settings = service.client.get("/runs").json()["runs"][0]["scoring"]
    expected = ae.save_scores(folder, "test", by=settings["by"], k=settings["k"],
                              fpr=settings["fpr"])  # fmt: skip
    test = ae.load_run(folder).load_dataset().test.images
    got = service.client.post("/score", content=npy_bytes(test)).json()
    np.testing.assert_allclose(got["score"], expected["scores"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(got["reconstruction"], expected["reconstruction"], rtol=0, atol=1e-7)
    assert got["threshold"] == pytest.approx(expected["threshold"], abs=1e-12)
    assert got["flagged"] == [bool(s > got["threshold"]) for s in got["score"]]


def test_search_finds_what_nearest_finds(service, run, images):
    train = run.load_dataset().train.images
    indices, distances = ae.nearest(ae.embed(run, images[:2]), ae.embed(run, train), 4)
    got = service.client.post("/search?k=4", content=npy_bytes(images[:2])).json()
    assert [[n["index"] for n in row] for row in got["neighbours"]] == indices.tolist()
    np.testing.assert_allclose([[n["distance"] for n in row] for row in got["neighbours"]],
                               distances, atol=1e-5)  # fmt: skip
    first = got["neighbours"][0][0]
    assert first["class"] in ("a", "b", "c", "d") and got["in"].endswith("train")
    png = service.client.get(f"/images/{first['index']}.png")
    assert png.status_code == 200 and png.content == png_bytes(train[first["index"]])


def test_generate_is_the_runs_sample(service):
    got = service.client.post("/runs/vae/generate?n=3&seed=5").json()
    expected = ae.load_run(service.runs["vae"]).sample(3, 5)
    np.testing.assert_allclose(got["images"], expected, atol=1e-6)
    refused = service.client.post("/generate?n=2")  # the stacked run has no prior
    assert refused.status_code == 409 and "fit-sampler" in refused.json()["error"]


def test_health_runs_and_openapi(service):
    health = service.client.get("/health").json()
    assert health["status"] == "ok" and health["runs"] == ["stacked", "vae"] and health["ready"]
    described = service.client.get("/runs").json()["runs"]
    assert described[1]["generative"] and described[0]["input"] == {
        "height": 28,
        "width": 28,
        "channels": 1,
    }
    spec = service.client.get("/openapi.json").json()
    for path in ("/embed", "/runs/{name}/score", "/runs/{name}/search", "/generate", "/health"):
        assert path in spec["paths"], path
    assert "image/png" in spec["paths"]["/embed"]["post"]["requestBody"]["content"]


def test_requests_that_arrive_together_run_together(service, run, images):
    """32 concurrent single-image requests: every answer is its own image's, in fewer batches."""
    batcher = service.app.state.batchers[("stacked", "embed")]
    batches, requests = batcher.batches, batcher.requests
    many = synthetic_images(32, seed=4)[0]

    async def send_all():
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
            return await asyncio.gather(
                *(client.post("/embed", content=png_bytes(im)) for im in many)
            )

    answers = asyncio.run(send_all())
    got = np.array([a.json()["codings"][0] for a in answers])
    np.testing.assert_allclose(got, run.encode(many), atol=1e-5)
    assert batcher.requests - requests == 32
    assert batcher.batches - batches < 32


def test_a_full_queue_answers_busy_at_once():
    from concurrent.futures import ThreadPoolExecutor

    from autoencode.service.batching import Batcher, Busy

    release = threading.Event()

    def slow(arrays, options):
        release.wait(10)
        return [a.sum() for a in arrays]

    async def fill():
        batcher = Batcher(slow, ThreadPoolExecutor(1), max_batch=1, max_wait=0, max_queue=2)
        batcher.start()
        first = asyncio.ensure_future(batcher(np.ones(1)))
        await asyncio.sleep(0.05)  # the worker holds the first; two more fill the queue
        waiting = [asyncio.ensure_future(batcher(np.ones(1) * i)) for i in (2, 3)]
        await asyncio.sleep(0)
        with pytest.raises(Busy):
            await batcher(np.ones(1))
        release.set()
        results = await asyncio.gather(first, *waiting)
        await batcher.stop()
        return results

    assert asyncio.run(fill()) == [1, 2, 3]


def test_a_token_guards_everything_but_the_page_and_health(tiny_run, images):
    live = LiveService([tiny_run("stacked")], token="s3cret")
    try:
        body = png_bytes(images[0])
        assert live.client.post("/embed", content=body).status_code == 401
        wrong = live.client.post("/embed", content=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "bearer token" in wrong.json()["error"]
        right = live.client.post("/embed", content=body, headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200
        assert live.client.get("/images/0.png").status_code == 401
        assert live.client.get("/health").json()["token_required"] is True
        assert live.client.get("/").status_code == 200
    finally:
        live.stop()


def test_resize_takes_other_sizes_and_channels(tiny_run, images):
    from PIL import Image

    live = LiveService([tiny_run("stacked")], resize=True)
    try:
        big = np.asarray(Image.fromarray(images[0]).resize((56, 56)).convert("RGB"))
        answer = live.client.post("/embed", content=png_bytes(big))
        assert answer.status_code == 200, answer.text
        assert answer.json()["shape"] == [1, 30]
    finally:
        live.stop()
