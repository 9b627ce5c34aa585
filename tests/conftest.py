"""Tiny synthetic datasets and IDX files that the tests write themselves; real data when present."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from autoencode.data.types import Dataset, Split


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array (the format's 0x08 type)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx(path, array: np.ndarray, compress: bool = True):
    content = idx_bytes(array)
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


def synthetic_images(n: int, seed: int = 0, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of 4 classes of bright bars/blocks with noise: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    images = rng.integers(0, 40, (n, size, size)).astype(np.uint8)
    q = size // 4
    for i, label in enumerate(labels):
        r, c = divmod(int(label), 2)
        images[i, r * 2 * q + q // 2 : r * 2 * q + q + q // 2, :] = 200 if c == 0 else 120
        images[i, :, c * 2 * q + q // 2 : c * 2 * q + q + q // 2] = 230
    return images, labels


def read_png(path, min_width: int = 100, min_height: int = 50) -> np.ndarray:
    """A PNG a command wrote, read back as float RGBA pixels and checked to be a picture: a PNG
    file, at least ``min_width`` × ``min_height`` pixels, and not one flat colour."""
    from matplotlib.image import imread

    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    pixels = imread(path)
    height, width = pixels.shape[:2]
    assert width >= min_width and height >= min_height, f"{path}: only {width}×{height} pixels"
    assert pixels[..., :3].var() > 1e-4, f"{path}: blank"
    return pixels


def cells(pixels: np.ndarray, rows: int, cols: int) -> list[np.ndarray]:
    """A picture cut into ``rows`` × ``cols`` equal blocks, row by row."""
    return [block for band in np.array_split(pixels, rows, axis=0)
            for block in np.array_split(band, cols, axis=1)]  # fmt: skip


def assert_gray(pixels: np.ndarray) -> None:
    """Drawn with a gray colour map only (the seed's ``binary``): red = green = blue."""
    np.testing.assert_allclose(pixels[..., 0], pixels[..., 1], atol=1 / 255)
    np.testing.assert_allclose(pixels[..., 1], pixels[..., 2], atol=1 / 255)


@pytest.fixture
def tiny_data() -> Dataset:
    images, labels = synthetic_images(96)
    return Dataset("tiny", Split(images[32:], labels[32:]), Split(images[:32], labels[:32]),
                   Split(images[:16], labels[:16]), ("a", "b", "c", "d"))  # fmt: skip


def write_tiny_npz(path: Path) -> Path:
    """96 synthetic images of 4 named classes as a .npz: 64 train, 32 valid, 16 test."""
    images, labels = synthetic_images(96)
    np.savez(path, x_train=images[32:], y_train=labels[32:], x_valid=images[:32], y_valid=labels[:32],
             x_test=images[:16], y_test=labels[:16], class_names=np.array(["a", "b", "c", "d"]))  # fmt: skip
    return path


@pytest.fixture
def tiny_npz(tmp_path) -> str:
    return str(write_tiny_npz(tmp_path / "tiny.npz"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """``tiny_run(preset)``: a run folder of that preset trained on ``tiny_run.data`` (the tiny
    .npz; 1 epoch, batch 16), trained once a session and given as a fresh copy each call (into
    ``into / preset`` if given), so a test may change its copy."""
    import shutil

    import autoencode as ae

    pristine = tmp_path_factory.mktemp("tiny-runs")
    data = write_tiny_npz(pristine / "tiny.npz")

    def copy(preset: str, into: Path | None = None) -> Path:
        source = pristine / preset
        if not source.is_dir():
            ae.train(preset, str(data), source, epochs=1, batch_size=16, progress=False)
        target = (into or tmp_path_factory.mktemp(preset)) / preset
        shutil.copytree(source, target)
        return target

    copy.data = data
    return copy


@pytest.fixture(scope="session")
def fashion_mnist() -> Dataset:
    """The real Fashion-MNIST; skipped where absent, but a failure in CI (which installs it)."""
    from autoencode.data.datasets import load_fashion_mnist
    from autoencode.errors import DataError

    try:
        return load_fashion_mnist(download=False)
    except DataError as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have Fashion-MNIST (apt-get install dataset-fashion-mnist): {e}")
        pytest.skip(f"Fashion-MNIST not installed here ({e})")


def write_image_folder(root: Path, size: tuple[int, int], per_class: int = 8) -> Path:
    """Two classes of RGB PNGs of ``size`` (width, height), as a user would have them."""
    from PIL import Image

    rng = np.random.default_rng(0)
    width, height = size
    for label in ("red", "blue"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
            image[height // 4 : height * 3 // 4, width // 4 : width * 3 // 4,
                  0 if label == "red" else 2] = 220  # fmt: skip
            Image.fromarray(image).save(root / label / f"{i}.png")
    return root


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory) -> Path:
    """16 photos of 100×75 RGB in two class folders."""
    return write_image_folder(tmp_path_factory.mktemp("photos"), (100, 75))


CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
FLAGS = [  # as the machine's own check starts it: no background connections, a fresh profile
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,900",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A real headless Chromium (Debian's chromium and chromium-driver, through Selenium), for
    the pages' tests; their console and network logs are kept."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    if webdriver is None or not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):  # .ci/run installs them: missing there is a failure
            pytest.fail("the page tests need chromium, chromium-driver and selenium")
        pytest.skip(
            "the page tests need a browser: apt-get install chromium chromium-driver "
            "(make test does it as root), and selenium (pip install -e '.[dev]')"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_script_timeout(60)
    driver.get("about:blank")  # not the new-tab page, whose own requests would trickle in
    yield driver
    driver.quit()


def requests_of(browser, page_uri: str) -> list[str]:
    """The URLs that the page at ``page_uri`` requested since the performance log was last read
    (its own document's requests; not the browser's pages), besides the page itself."""
    import json

    events = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
    return [e["params"]["request"]["url"] for e in events
            if e["method"] == "Network.requestWillBeSent"
            and e["params"].get("documentURL") == page_uri
            and e["params"]["request"]["url"] != page_uri]  # fmt: skip


def benchmark_script(name: str):
    """``benchmarks/NAME.py`` loaded as a module (benchmarks are scripts, not a package), for the
    tests that run one in its smallest setting."""
    import importlib.util

    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
