"""Generative models: samples in [0, 1], of the right shape, reproducible, and not all alike;
and the figures that show images (reconstructions, sample grids, interpolation strips), tested on
what they draw."""

import numpy as np
import pytest

from autoencode.commands.train import train
from autoencode.figures import image_grid_figure, reconstruction_figure, strip_figure
from autoencode.presets import PRESETS
from conftest import synthetic_images

GENERATIVE = [name for name, p in PRESETS.items() if name == "vae"]


@pytest.fixture(scope="module", params=GENERATIVE)
def run(request, tmp_path_factory):
    from autoencode.data.types import Dataset, Split

    images, labels = synthetic_images(96)
    data = Dataset("tiny", Split(images[32:], labels[32:]), Split(images[:32], labels[:32]))
    return train(request.param, data, tmp_path_factory.mktemp("gen"), epochs=3, progress=False)


def test_samples(run):
    a, b = run.sample(12, seed=7), run.sample(12, seed=7)
    assert a.shape == (12, 28, 28) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, run.sample(12, seed=8))
    distinct = {a[i].tobytes() for i in range(12)}
    assert len(distinct) == 12 and np.std(a, axis=0).mean() > 1e-3


def test_interpolation_ends_at_the_reconstructions(run):
    images, _ = synthetic_images(2, seed=5)
    strip = run.interpolate(images[0], images[1], steps=6)
    recon = run.reconstruct(images)
    assert strip.shape == (6, 28, 28)
    np.testing.assert_allclose(strip[0], recon[0], atol=1e-5)
    np.testing.assert_allclose(strip[-1], recon[1], atol=1e-5)


def position(ax) -> tuple[int, int, int, int]:
    """Rows and columns of the axis' grid, and its own row and column."""
    rows, cols, start, stop = ax.get_subplotspec().get_geometry()
    assert start == stop, "one image per cell"
    return rows, cols, *divmod(start, cols)


def assert_shows(ax, image: np.ndarray, vmax: float) -> None:
    """The axis draws exactly ``image``, the seed's way: no axes, ``binary`` for gray images,
    the full range of its type (0-255 for uint8, 0-1 for floats) mapped to the colours."""
    assert len(ax.images) == 1 and not ax.axison
    drawn = ax.images[0]
    expected = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    np.testing.assert_array_equal(np.asarray(drawn.get_array()), expected)
    if expected.ndim == 2:
        assert drawn.get_cmap().name == "binary"
        assert drawn.get_clim() == (0, vmax)


def test_reconstruction_figure_puts_originals_above_their_reconstructions():
    originals, _ = synthetic_images(4, seed=1)
    reconstructions = (originals[:, ::-1] / 255).astype(np.float32)  # distinct from the originals
    fig = reconstruction_figure(originals, reconstructions)
    assert len(fig.axes) == 8
    cell = {position(ax)[2:]: ax for ax in fig.axes}
    assert {position(ax)[:2] for ax in fig.axes} == {(2, 4)}
    assert sorted(cell) == [(row, col) for row in range(2) for col in range(4)]
    for i in range(4):
        assert_shows(cell[0, i], originals[i], vmax=255)
        assert_shows(cell[1, i], reconstructions[i], vmax=1)
        assert cell[0, i].get_position().y0 > cell[1, i].get_position().y1  # above, not beside
    assert cell[0, 0].get_position().x1 < cell[0, 1].get_position().x0  # left to right


def test_image_grid_figure_fills_rows_of_the_seeds_shape():
    images = np.random.default_rng(0).random((12, 28, 28)).astype(np.float32)
    fig = image_grid_figure(images)
    assert len(fig.axes) == 12
    for i, ax in enumerate(fig.axes):
        assert position(ax) == (3, 4, *divmod(i, 4))  # the seed's 3 rows of 4, row by row
        assert_shows(ax, images[i], vmax=1)
    fig = image_grid_figure(images[:7], cols=5)
    assert [position(ax) for ax in fig.axes] == [(2, 5, *divmod(i, 5)) for i in range(7)]


def test_figures_draw_colour_and_single_channel_images():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 12, 12, 3), dtype=np.uint8)
    for i, ax in enumerate(image_grid_figure(rgb).axes):
        assert_shows(ax, rgb[i], vmax=255)
        assert ax.images[0].get_array().shape == (12, 12, 3)
    one_channel = rng.random((2, 12, 12, 1)).astype(np.float32)
    fig = reconstruction_figure(one_channel, one_channel)
    assert [ax.images[0].get_array().shape for ax in fig.axes] == [(12, 12)] * 4
    assert_shows(fig.axes[0], one_channel[0], vmax=1)


def test_strip_figure_is_one_row_under_its_title():
    images = np.linspace(0, 1, 5 * 28 * 28, dtype=np.float32).reshape(5, 28, 28)
    fig = strip_figure(images, "valid 0 → 3")
    assert [position(ax) for ax in fig.axes] == [(1, 5, 0, i) for i in range(5)]
    for ax, image in zip(fig.axes, images, strict=True):
        assert_shows(ax, image, vmax=1)
    assert fig.get_suptitle() == "valid 0 → 3"
    assert strip_figure(images).get_suptitle() == ""
