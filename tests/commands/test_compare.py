"""``autoencode compare``: the page (in a real headless Chromium), the table, and what it refuses."""

import re

import numpy as np
import pytest

import autoencode as ae
from autoencode.cli.main import main
from autoencode.commands.compare import number
from conftest import requests_of, synthetic_images

PRESETS = ("stacked", "conv", "vae")


@pytest.fixture(scope="module")
def runs(tiny_run, tmp_path_factory):
    """A stacked, a conv and a variational run on the same tiny data, the stacked one mapped."""
    folder = tmp_path_factory.mktemp("compare")
    paths = [tiny_run(preset, into=folder) for preset in PRESETS]
    assert main(["map", str(paths[0]), "--method", "pca"]) == 0
    assert main(["report", str(paths[0])]) == 0
    return paths


def test_the_cli_prints_the_table_the_library_returns(runs, tmp_path, capsys):
    result = ae.compare(runs, tmp_path / "a.html")
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "b.html")]) == 0
    out = capsys.readouterr().out
    assert out == f"{result.table()}\nwrote {tmp_path / 'b.html'}\n"
    assert result.names == list(PRESETS) and [row["run"] for row in result.rows] == list(PRESETS)
    assert {"parameters", "epochs", "s/epoch", "val_loss", "loss"} <= set(result.rows[0])
    assert [row["parameters"] for row in result.rows] == [163_814, 46_529, 269_504]
    assert result.differ["preset"] == list(PRESETS)
    assert result.shared["training.seed"] == 42 and "training.seed" not in result.differ
    assert result.path == tmp_path / "a.html"
    default = ae.compare(runs)  # beside the runs
    assert default.path == runs[0].parent / "compare.html" and default.path.is_file()


def test_the_page_in_a_browser(runs, browser, tmp_path):
    page = ae.compare(runs, tmp_path / "compare.html").path
    browser.get_log("browser"), browser.get_log("performance")  # forget the previous page's
    browser.get(page.as_uri())
    fetched = [url for url in requests_of(browser, page.as_uri())
               if url.split(":")[0] in ("http", "https", "file", "ws", "wss")]  # fmt: skip
    assert fetched == []  # inline images only (data: URLs), nothing from the network or disk
    assert [m for m in browser.get_log("browser") if m["level"] == "SEVERE"] == []
    for column in ("loss", "val_loss"):  # every run has these: one curve each
        curves = browser.find_elements("css selector", f'svg[data-column="{column}"] polyline')
        assert sorted(c.get_attribute("data-run") for c in curves) == sorted(PRESETS)
    kl = browser.find_elements("css selector", 'svg[data-column="val_kl"] polyline')
    assert [c.get_attribute("data-run") for c in kl] == ["vae"]  # only the VAE has one
    strips = browser.find_elements("css selector", "img.recon")
    assert [s.get_attribute("data-run") for s in strips] == list(PRESETS)
    assert {s.get_attribute("data-indices") for s in strips} == {"0,1,2,3,4,5,6,7"}
    assert all(s.get_property("naturalWidth") == 8 * 28 for s in strips)  # decoded, 8 images wide
    assert len(browser.find_elements("css selector", "img.original")) == 1  # the same images
    assert [
        s.get_attribute("data-run") for s in browser.find_elements("css selector", "img.sample")
    ] == ["vae"]
    header = browser.find_elements("css selector", "table.sortable th")[1]  # parameters
    header.click()
    cells = browser.find_elements("css selector", "table.sortable tbody tr td:first-child")
    assert [c.text for c in cells] == ["conv", "stacked", "vae"]  # by parameters, ascending
    links = [a.get_attribute("href") for a in browser.find_elements("css selector", "table.maps a")]
    assert any(link.endswith("/stacked/report.html") for link in links)
    assert len(browser.find_elements("css selector", "table.maps img.map")) == 1
    browser.save_screenshot(str(tmp_path / "compare.png"))


def test_runs_of_different_data_are_refused_unless_asked(runs, tmp_path, capsys):
    images, labels = synthetic_images(80, seed=5)
    other = tmp_path / "other.npz"
    np.savez(
        other, x_train=images[20:], y_train=labels[20:], x_valid=images[:20], y_valid=labels[:20]
    )
    ae.train("stacked", str(other), tmp_path / "other", epochs=1, progress=False)
    argv = ["compare", str(runs[0]), str(tmp_path / "other"), "--out", str(tmp_path / "c.html")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different data (--allow-different-data" in err
    assert not (tmp_path / "c.html").exists()
    assert main([*argv, "--allow-different-data"]) == 0
    page = (tmp_path / "c.html").read_text()
    assert page.count('class="strip original"') == 2  # each run its own images


def test_one_run_is_not_a_comparison(runs, capsys):
    assert main(["compare", str(runs[0])]) == 2
    assert "at least two runs" in capsys.readouterr().err


def test_twenty_runs_stay_readable(tiny_run, tmp_path):
    """20 runs: a colour each (the legend), a row each, the curves in one chart per term."""
    paths = [tiny_run("stacked", into=tmp_path / f"{i:02d}") for i in range(20)]
    result = ae.compare(paths, tmp_path / "c.html")
    page = result.path.read_text()
    colours = re.findall(r'class="key" style="background:(#[0-9a-f]{6})"', page)
    assert len(colours) == len(set(colours)) == 20
    assert len(result.rows) == 20 and len(set(result.names)) == 20  # 01/stacked, 02/stacked, ...
    assert page.count('data-column="loss"') == 1 and page.count('class="curve"') == 20 * 2


def test_numbers_are_rounded_for_people():
    assert number(0.7402500000000001) == "0.7403"
    assert (number(163_814), number(3), number(12.0), number("dense")) == (
        "163,814",
        "3",
        "12",
        "dense",
    )
