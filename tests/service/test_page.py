"""The service's page in a real headless Chromium: an image dropped on it shows its
reconstruction, its score and its neighbours, with no console error and no request beyond
the service."""

import base64
import json

import numpy as np
from service_live import live_service, png_bytes

from conftest import synthetic_images

service = live_service

DROP = """
const [data, done] = arguments;
const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
const transfer = new DataTransfer();
transfer.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
const zone = document.getElementById("drop");
for (const type of ["dragenter", "dragover", "drop"]) {
  zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
}
const started = Date.now();
(function wait() {
  const shown = [...document.querySelectorAll("#neighbours img")];
  const loaded = (img) => img.complete && img.naturalWidth > 0;
  if (shown.length === 8 && shown.every(loaded) && loaded(document.getElementById("reconstruction"))
      && loaded(document.getElementById("original"))) {
    done({score: document.getElementById("score").innerText,
          captions: shown.map((img) => img.nextSibling.textContent),
          error: document.getElementById("error").textContent});
  } else if (document.getElementById("error").textContent || Date.now() - started > 20000) {
    done({error: document.getElementById("error").textContent || "timed out"});
  } else {
    setTimeout(wait, 50);
  }
})();
"""


def network_requests(browser) -> list[str]:
    events = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
    return [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]


def test_dropping_an_image_shows_its_reconstruction_score_and_neighbours(
    browser, service, tmp_path
):
    from PIL import Image

    browser.get_log("browser"), browser.get_log("performance")
    browser.get(service.url + "/")
    browser.execute_async_script(
        "const done = arguments[0]; (function wait() {"
        " document.body.dataset.ready ? done() : setTimeout(wait, 20); })();"
    )
    image = synthetic_images(1, seed=9)[0][0]
    shown = browser.execute_async_script(DROP, base64.b64encode(png_bytes(image)).decode())
    assert not shown.get("error"), shown
    assert "score" in shown["score"] and "threshold" in shown["score"]
    assert shown["score"].splitlines()[0] in ("normal", "anomalous")
    got = service.client.post("/search?k=8", content=png_bytes(image)).json()["neighbours"][0]
    assert [c.split()[0] for c in shown["captions"]] == [f"#{n['index']}" for n in got]
    reconstruction = browser.execute_script(
        "const img = document.getElementById('reconstruction'); const c = document.createElement('canvas');"
        "c.width = img.naturalWidth; c.height = img.naturalHeight; const g = c.getContext('2d');"
        "g.drawImage(img, 0, 0); return Array.from(g.getImageData(0, 0, c.width, c.height).data);"
    )
    pixels = np.array(reconstruction, np.uint8).reshape(28, 28, 4)[..., 0]
    import autoencode as ae

    expected = ae.load_run(service.runs["stacked"]).reconstruct(image[None])[0]
    assert np.abs(pixels / 255 - expected).max() <= 1 / 255 + 1e-6
    browser.save_screenshot(str(tmp_path / "page.png"))
    assert Image.open(tmp_path / "page.png").size[0] > 0
    print(f"screenshot: {tmp_path / 'page.png'}")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    outside = [u for u in network_requests(browser)
               if not u.startswith((service.url + "/", "blob:" + service.url + "/", "data:"))]  # fmt: skip
    assert outside == []


def test_a_wrong_image_is_said_on_the_page(browser, service):
    browser.get(service.url + "/")
    browser.execute_async_script(
        "const done = arguments[0]; (function wait() {"
        " document.body.dataset.ready ? done() : setTimeout(wait, 20); })();"
    )
    wrong = png_bytes(np.zeros((10, 10), np.uint8))
    shown = browser.execute_async_script(DROP, base64.b64encode(wrong).decode())
    assert "the model takes 28×28" in shown["error"]
