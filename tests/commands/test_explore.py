"""``autoencode explore``: the page, opened in a real headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium), checked against the Python model it was written from."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import autoencode as ae
from autoencode.cli.main import main
from conftest import requests_of


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny stacked and conv runs on labelled data, and a stacked run on images without labels."""
    from conftest import synthetic_images

    folder = tmp_path_factory.mktemp("explore")
    images, labels = synthetic_images(160)
    labelled, unlabelled = folder / "tiny.npz", folder / "images.npy"
    np.savez(labelled, x_train=images[60:], y_train=labels[60:], x_valid=images[:60],
             y_valid=labels[:60], class_names=np.array(["a", "b", "c", "d"]))  # fmt: skip
    np.save(unlabelled, images)
    for name, preset, data in [("stacked", "stacked", labelled), ("conv", "conv", labelled),
                               ("unlabelled", "stacked", unlabelled)]:  # fmt: skip
        ae.train(preset, str(data), folder / name, epochs=1, batch_size=16, progress=False)
    return folder


def open_page(browser, path: Path) -> dict:
    """Load the page and wait until it is ready; returns its console messages and the requests
    it made, besides the page itself."""
    browser.get_log("browser"), browser.get_log("performance")  # forget the previous page's
    browser.get(path.as_uri())
    error = browser.execute_async_script(
        "const done = arguments[0]; explore.ready.then(() => done(null), (e) => done(String(e)));"
    )
    assert error is None, error
    requests = requests_of(browser, path.as_uri())
    return {"console": browser.get_log("browser"), "requests": requests}


def mouse(browser, kind: str, x: float, y: float, **extra) -> None:
    """A real input event at client coordinates (through the DevTools protocol)."""
    event = {"type": kind, "x": x, "y": y, **extra}
    if kind in ("mousePressed", "mouseReleased"):
        event |= {"button": "left", "clickCount": 1}
    elif extra.get("buttons"):  # a drag
        event |= {"button": "left"}
    browser.execute_cdp_cmd("Input.dispatchMouseEvent", event)


def click(browser, x: float, y: float) -> None:
    mouse(browser, "mouseMoved", x, y)
    mouse(browser, "mousePressed", x, y)
    mouse(browser, "mouseReleased", x, y)


def next_frame(browser) -> None:
    browser.execute_async_script(
        "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));"
    )


def canvas_pixels(browser, element_id: str) -> np.ndarray:
    """A canvas' pixels (H, W, 4) as the page drew them."""
    data = browser.execute_script(
        "const c = document.getElementById(arguments[0]);"
        "return [c.height, c.width, Array.from(c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data)];",
        element_id,
    )
    return np.array(data[2], dtype=np.uint8).reshape(data[0], data[1], 4)


def page_meta(page: Path) -> dict:
    """What the page knows of its run, read back from its HTML."""
    text = page.read_text()
    start = text.index('id="meta">') + len('id="meta">')
    return json.loads(text[start : text.index("</script>", start)])


def codings_of(run_path: Path, split: str = "valid") -> tuple[ae.Run, np.ndarray, np.ndarray]:
    run = ae.load_run(run_path)
    images = run.load_dataset().split(split).images
    return run, images, ae.embed(run, images)


def python_decode(run, codings: np.ndarray) -> np.ndarray:
    shape = run.model.encode(torch.zeros(1, *run.config.model.input_shape)).shape[1:]
    with torch.inference_mode():
        z = torch.from_numpy(codings.astype(np.float32)).reshape(len(codings), *shape)
        return run.model.eval().decode(z).reshape(len(codings), -1).numpy()


def test_the_page_works_offline_and_draws_every_point(browser, runs):
    page = ae.explore(runs / "stacked", method="pca")
    assert page == runs / "stacked" / "explore.html"
    text = page.read_text()
    assert "http://" not in text and "https://" not in text and "<link" not in text
    seen = open_page(browser, page)
    assert seen["console"] == [] and seen["requests"] == []
    assert browser.execute_script("return explore.drawn") == 60  # the validation split
    assert "60 points" in browser.find_element("id", "status").text


def test_hover_shows_the_thumbnail_of_the_point_under_the_cursor(browser, runs):
    open_page(browser, ae.explore(runs / "stacked", method="pca"))
    _, images, _ = codings_of(runs / "stacked")
    where = np.array(browser.execute_script("return [...Array(60).keys()].map(explore.screenOf)"))
    gaps = np.linalg.norm(where[:, None] - where[None], axis=-1) + np.eye(60) * 1e9
    i = int(gaps.min(axis=1).argmax())  # the point farthest from any other
    mouse(browser, "mouseMoved", *where[i])
    assert browser.execute_script("return explore.hovered") == i
    assert browser.find_element("id", "tip").is_displayed()
    pixels = canvas_pixels(browser, "tip-image")
    np.testing.assert_array_equal(pixels[..., 0], 255 - images[i])  # dark ink on white
    assert f"#{i}" in browser.find_element("id", "tip-text").text


def test_points_are_drawn_where_the_page_says_they_are(browser, runs):
    """The canvas' pixels match its box (the header cannot squeeze it): at each isolated
    point's client position, a screenshot shows that point's colour."""
    import base64
    import io

    from matplotlib.image import imread

    open_page(browser, ae.explore(runs / "stacked", method="pca"))
    where = np.array(browser.execute_script("return [...Array(60).keys()].map(explore.screenOf)"))
    gaps = np.linalg.norm(where[:, None] - where[None], axis=-1) + np.eye(60) * 1e9
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"]
    pixels = imread(io.BytesIO(base64.b64decode(shot)))[..., :3]
    labels = ae.load_run(runs / "stacked").load_dataset().valid.labels
    tab10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
    isolated = np.flatnonzero(gaps.min(axis=1) > 8)
    assert len(isolated) >= 5
    for i in isolated:
        x, y = where[i].round().astype(int)
        colour = [int(tab10[labels[i]][k : k + 2], 16) / 255 for k in (1, 3, 5)]
        np.testing.assert_allclose(pixels[y, x], colour, atol=2 / 255, err_msg=f"point {i}")


def test_selection_by_shift_click(browser, runs):
    open_page(browser, ae.explore(runs / "stacked", method="pca"))
    state = "return [explore.selected, explore.selection.sort((a, b) => a - b)]"
    browser.execute_script("explore.select(3); explore.select(5, true)")
    assert browser.execute_script(state) == [5, [3, 5]]
    browser.execute_script("explore.select(5, true)")  # out again
    assert browser.execute_script(state) == [3, [3]]
    browser.execute_script("explore.select(3, true)")
    assert browser.execute_script(state) == [-1, []]
    assert not browser.find_element("id", "download").is_enabled()


def test_long_class_names_leave_the_map_in_view(browser, runs, tmp_path):
    run = ae.load_run(runs / "stacked")
    valid = run.load_dataset().valid
    names = tuple(f"class {c} " + "very " * 60 + "long" for c in range(4))
    data = ae.Dataset("long", valid, valid, None, names)
    open_page(browser, ae.explore(run, data, method="pca", out=tmp_path / "p.html"))
    assert browser.execute_script("return explore.drawn") == 60


def test_the_page_decodes_as_the_python_decoder(browser, runs):
    for name in ("stacked", "conv"):  # dense layers; transposed convolutions, codings 64×3×3
        open_page(browser, ae.explore(runs / name, method="pca"))
        run, _, codings = codings_of(runs / name)
        z = np.random.default_rng(0).normal(size=(5, codings.shape[1])).astype(np.float32)
        z[:2] = codings[:2]
        page = np.array(
            browser.execute_script("return arguments[0].map(explore.decode)", z.tolist())
        )
        assert np.abs(page - python_decode(run, z)).max() < 1e-4, name


def test_a_click_shows_neighbours_in_coding_space_and_the_reconstruction(browser, runs):
    open_page(browser, ae.explore(runs / "conv", method="pca"))
    run, images, codings = codings_of(runs / "conv")
    assert codings.shape == (60, 576)  # conv codings, flattened
    i = 7
    click(browser, *browser.execute_script(f"return explore.screenOf({i})"))
    selected = browser.execute_script("return explore.selected")
    distances = torch.cdist(torch.from_numpy(codings), torch.from_numpy(codings))[selected]
    distances[selected] = float("inf")
    expected = distances.argsort()[:8].tolist()
    shown = [int(f.get_attribute("data-index"))
             for f in browser.find_elements("css selector", "#neighbours figure")]  # fmt: skip
    assert shown == expected
    reconstruction = canvas_pixels(browser, "reconstruction")[..., 0].astype(int)
    want = 255 - np.round(255 * run.reconstruct(images[selected : selected + 1])[0]).astype(int)
    assert np.abs(reconstruction - want).max() <= 1


def test_a_slider_move_changes_the_decoded_image(browser, runs):
    open_page(browser, ae.explore(runs / "stacked", method="pca"))
    browser.execute_script("explore.select(3)")
    before = canvas_pixels(browser, "decoded")
    slider = browser.find_element("css selector", "#sliders input")
    browser.execute_script("arguments[0].scrollIntoView()", slider)
    box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", slider)
    low, high, value = (float(slider.get_attribute(a)) for a in ("min", "max", "value"))
    y, thumb = box["y"] + box["height"] / 2, box["x"] + box["width"] * (value - low) / (high - low)
    end = box["x"] + 3 if value > (low + high) / 2 else box["x"] + box["width"] - 3  # the far end
    mouse(browser, "mouseMoved", thumb, y)
    mouse(browser, "mousePressed", thumb, y)
    mouse(browser, "mouseMoved", (thumb + end) / 2, y, buttons=1)  # a drag, in two moves
    mouse(browser, "mouseMoved", end, y, buttons=1)
    mouse(browser, "mouseReleased", end, y)
    next_frame(browser)  # the page re-decodes once a frame
    moved = float(browser.execute_script("return arguments[0].value", slider))
    assert abs(moved - value) > (high - low) / 3
    assert not np.array_equal(before, canvas_pixels(browser, "decoded"))


def test_a_click_on_empty_space_decodes_there(browser, runs):
    open_page(browser, ae.explore(runs / "stacked", method="pca"))
    box = browser.execute_script(
        "return document.getElementById('map').getBoundingClientRect().toJSON()"
    )
    where = np.array(browser.execute_script("return [...Array(60).keys()].map(explore.screenOf)"))
    spots = [(box["x"] + 5 + 10 * a, box["y"] + 5 + 10 * b) for a in range(30) for b in range(30)]
    empty = max(spots, key=lambda s: np.linalg.norm(where - s, axis=1).min())
    click(browser, *empty)
    assert browser.execute_script("return explore.selected") == -1
    assert "interpolated from the 8 nearest" in browser.find_element("id", "decode-text").text
    assert not browser.find_element("id", "select-neighbours").is_enabled()  # no point: none
    assert canvas_pixels(browser, "decoded")[..., 0].std() > 0


def test_legend_find_and_csv_of_the_selection(browser, runs, tmp_path):
    open_page(browser, ae.explore(runs / "stacked", method="pca"))
    labels = ae.load_run(runs / "stacked").load_dataset().valid.labels
    legend = browser.find_elements("css selector", "#legend button")
    assert [b.text.split(" (")[0] for b in legend] == ["a", "b", "c", "d"]
    legend[1].click()  # hide class b
    assert browser.execute_script("return explore.drawn") == 60 - int((labels == 1).sum())
    legend = browser.find_elements("css selector", "#legend button")
    legend[1].click()
    browser.find_element("id", "find-index").send_keys("12\n")
    assert browser.execute_script("return explore.selected") == 12
    browser.find_element("id", "select-neighbours").click()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(tmp_path)})  # fmt: skip
    browser.find_element("id", "download").click()
    csv = wait_for(tmp_path / "stacked_valid_selection.csv")
    rows = np.genfromtxt(csv, delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert len(rows) == 9 and 12 in rows["index"] and rows.dtype.names[:5] == (
        "index", "label", "class", "x", "y")  # fmt: skip
    _, _, codings = codings_of(runs / "stacked")
    first = rows[0]
    np.testing.assert_allclose(
        [first[f"z{t}"] for t in range(30)], codings[first["index"]], rtol=1e-6
    )


def wait_for(path: Path, seconds: float = 10) -> Path:
    import time

    end = time.monotonic() + seconds
    while not path.is_file() and time.monotonic() < end:
        time.sleep(0.05)
    assert path.is_file(), f"{path} was not downloaded"
    return path


def test_a_run_without_labels_gives_one_colour(browser, runs):
    seen = open_page(browser, ae.explore(runs / "unlabelled", method="pca"))
    assert seen["console"] == []
    assert browser.execute_script("return explore.meta.classes") is None
    assert browser.find_element("id", "legend").text == "no labels: one colour"
    assert browser.execute_script("return explore.drawn") == 16  # 10% of 160 held out


def test_the_map_of_autoencode_map_is_reused_while_unchanged(runs, tmp_path):
    result = ae.save_map(runs / "stacked", method="pca")
    assert page_meta(ae.explore(runs / "stacked", method="pca"))["mapFrom"] == (
        "figures/map_pca.npy (autoencode map)")  # fmt: skip
    np.save(result["coords"], np.load(result["coords"])[::-1].copy())  # changed since
    assert page_meta(ae.explore(runs / "stacked", method="pca"))["mapFrom"] == "drawn for this page"
    ae.save_map(runs / "stacked", method="pca")
    same_data = ae.explore(runs / "stacked", str(runs / "tiny.npz"), method="pca")
    assert page_meta(same_data)["mapFrom"].endswith("(autoencode map)")  # the same images
    other_seed = ae.explore(runs / "stacked", method="pca", seed=7)
    assert page_meta(other_seed)["mapFrom"] == "drawn for this page"


def test_a_map_drawn_before_a_resume_is_not_reused(runs, tmp_path):

    shutil.copytree(runs / "stacked", tmp_path / "run")
    ae.save_map(tmp_path / "run", method="pca")
    ae.resume(tmp_path / "run", epochs=2, progress=False)  # new weights: the codings moved
    assert page_meta(ae.explore(tmp_path / "run", method="pca"))["mapFrom"] == "drawn for this page"


def test_any_label_values_become_classes(runs, tmp_path):
    """Labels are whatever a file holds (negative, huge): each distinct value is one class."""
    run = ae.load_run(runs / "stacked")
    images = run.load_dataset().valid.images[:12]
    labels = np.array([-5, 10**12, 3] * 4)
    data = ae.Dataset("odd", ae.Split(images, labels), ae.Split(images, labels), None, ("x", "y"))
    meta = page_meta(ae.explore(run, data, method="pca", out=tmp_path / "p.html"))
    assert meta["classes"] == ["-5", "3", "1000000000000"]
    assert meta["labelValues"] == ["-5", "3", "1000000000000"]  # exact, as strings
    halves = ae.Split(images, np.full(12, 0.5))
    data = ae.Dataset("halves", halves, halves)
    with pytest.raises(ae.DataError, match="labels must be whole numbers"):
        ae.explore(run, data, method="pca", out=tmp_path / "q.html")


def test_bad_input_is_one_line(runs, tmp_path, capsys):
    assert main(["explore", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing" in err
    assert main(["explore", str(runs / "stacked"), "--method", "mds"]) == 2
    assert "--method" in capsys.readouterr().err


def test_the_report_links_the_page(runs):
    ae.explore(runs / "stacked", method="pca")
    assert 'href="explore.html"' in ae.write_report(runs / "stacked").read_text()


def test_the_sample_button_decodes_codings_drawn_from_the_runs_sampler(browser, runs, tmp_path):
    folder = tmp_path / "stacked"
    shutil.copytree(runs / "stacked", folder)
    assert main(["fit-sampler", str(folder), "--components", "2"]) == 0
    page = ae.explore(folder, method="pca")
    assert page_meta(page)["sampler"] == "gmm"
    open_page(browser, page)
    run = ae.load_run(folder)
    draws = run.draw_codings(64, 42, "gmm").numpy()  # what the page was written with: seed 42
    button = browser.find_element("id", "decode-sample")
    for k in range(2):
        button.click()
        next_frame(browser)
        assert (
            f"sample {k + 1} of 64 drawn from the gmm"
            in browser.find_element("id", "decode-text").text
        )
        decoded = canvas_pixels(browser, "decoded")[..., 0].astype(int)
        want = 255 - np.round(255 * python_decode(run, draws[k : k + 1])[0]).reshape(28, 28)
        assert np.abs(decoded - want.astype(int)).max() <= 1
    open_page(browser, ae.explore(runs / "conv", method="pca"))  # no prior, no fitted sampler
    assert not browser.find_element("id", "decode-sample").is_enabled()
