"""Codings analysis: trustworthiness against scikit-learn's, the probes, maps and the CLI."""

import numpy as np
import pytest

from autoencode.analysis.embedding import map_codings, write_codings
from autoencode.analysis.metrics import (
    knn_accuracy,
    linear_probe_accuracy,
    reconstruction_metrics,
    trustworthiness,
)
from autoencode.cli.main import main
from autoencode.errors import AutoencodeError, ConfigError
from autoencode.figures import map_figure, spread_points
from autoencode.io import csv_text, stream_csv
from conftest import assert_gray, read_png, synthetic_images


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    points = (
        rng.normal(size=(300, 12)).astype(np.float32) + 4 * np.eye(12, dtype=np.float32)[labels]
    )
    return points, labels


def test_trustworthiness_equals_scikit_learns(blobs):
    from sklearn.manifold import trustworthiness as sklearn_trustworthiness

    points, _ = blobs
    low = points[:, :2] + np.random.default_rng(1).normal(size=(300, 2)).astype(np.float32)
    assert trustworthiness(points, low, k=10) == pytest.approx(
        sklearn_trustworthiness(points, low, n_neighbors=10), abs=1e-9
    )
    assert (
        abs(trustworthiness(points, low, k=10, sample=150) - trustworthiness(points, low, k=10))
        < 0.03
    )
    assert trustworthiness(points, points[:, :12], k=10) == pytest.approx(1.0)


def test_classifiers_read_separable_codings(blobs):
    points, labels = blobs
    assert knn_accuracy(points[:200], labels[:200], points[200:], labels[200:]) > 0.95
    assert linear_probe_accuracy(points[:200], labels[:200], points[200:], labels[200:]) > 0.95
    shuffled = np.random.default_rng(2).permutation(labels[:200])
    assert knn_accuracy(points[:200], shuffled, points[200:], labels[200:]) < 0.6


def test_reconstruction_metrics():
    images = np.full((2, 4, 4), 255, np.uint8)
    perfect = reconstruction_metrics(images, np.ones((2, 4, 4), np.float32))
    assert perfect["mse"] == 0 and perfect["psnr"] == pytest.approx(100.0)
    half = reconstruction_metrics(images, np.full((2, 4, 4), 0.5, np.float32))
    assert half["mse"] == pytest.approx(0.25) and half["bce"] == pytest.approx(np.log(2), rel=1e-5)
    assert half["psnr"] == pytest.approx(10 * np.log10(4))


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_maps_keep_clusters_apart(blobs, method):
    points, labels = blobs
    coords = map_codings(points, method)
    assert coords.shape == (300, 2) and np.isfinite(coords).all()
    assert knn_accuracy(coords[:200], labels[:200], coords[200:], labels[200:]) > 0.9


def test_map_errors():
    with pytest.raises(
        ConfigError, match="unknown method 'isomap': expected one of tsne, umap, pca"
    ):
        map_codings(np.zeros((10, 3)), "isomap")
    with pytest.raises(AutoencodeError, match="at least 5 points"):
        map_codings(np.zeros((3, 3)), "pca")


def test_write_codings_csv_and_npy(tmp_path):
    codings = np.arange(6, dtype=np.float32).reshape(3, 2)
    write_codings(tmp_path / "c.csv", codings, np.array([7, 8, 9]))
    assert (tmp_path / "c.csv").read_text().splitlines()[:2] == ["label,z0,z1", "7,0,1"]
    write_codings(tmp_path / "c.npy", codings)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), codings)
    with pytest.raises(AutoencodeError, match=r"expected a \.npy or \.csv"):
        write_codings(tmp_path / "c.txt", codings)


def test_rows_streamed_to_csv_are_the_csv_of_the_rows(tmp_path):
    rows = [{"index": i, "score": i / 3, "class": "a,b" if i else "x"} for i in range(5)]
    taken = []

    def one_at_a_time():
        for row in rows:
            taken.append(row)
            yield row

    stream_csv(tmp_path / "s.csv", one_at_a_time())
    assert (tmp_path / "s.csv").read_text() == csv_text(rows) and len(taken) == 5
    assert csv_text(rows).splitlines()[1] == "0,0.0,x"  # every digit: read back the same floats
    assert float(csv_text(rows).splitlines()[2].split(",")[1]) == 1 / 3
    stream_csv(tmp_path / "empty.csv", iter([]))
    assert (tmp_path / "empty.csv").read_text() == ""
    assert not list(tmp_path.glob(".*.tmp"))


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    return (code, *capsys.readouterr())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A stacked and a conv run on tiny labelled data, and the data file."""
    folder = tmp_path_factory.mktemp("analysis")
    images, labels = synthetic_images(160)
    np.savez(folder / "d.npz", x_train=images[60:], y_train=labels[60:], x_valid=images[:60],
             y_valid=labels[:60], x_test=images[:40], y_test=labels[:40],
             class_names=np.array(["bars", "blocks", "stripes", "grid"]))  # fmt: skip
    for preset in ("stacked", "conv"):
        assert main(["train", "--preset", preset, "--data", str(folder / "d.npz"), "--epochs", "1",
                     "--out", str(folder / preset), "--quiet"]) == 0  # fmt: skip
    return folder


@pytest.mark.parametrize("preset, dims", [("stacked", 30), ("conv", 576)])
def test_embed_flattens_codings(runs, preset, dims, capsys):
    code, _out, err = cli(
        capsys, "embed", runs / preset, "--split", "test", "--out", runs / f"{preset}.npy"
    )
    assert code == 0, err
    assert np.load(runs / f"{preset}.npy").shape == (40, dims)


def test_map_command(runs, capsys):
    code, out, err = cli(capsys, "map", runs / "conv", "--method", "pca", "--thumbnails")
    assert code == 0, err
    assert "trustworthiness (k=10)" in out
    assert np.load(runs / "conv" / "figures" / "map_pca.npy").shape == (60, 2)
    with_thumbnails = read_png(runs / "conv" / "figures" / "map_pca.png", 400, 300)
    assert np.ptp(with_thumbnails[..., :3], axis=-1).max() > 0.3  # points coloured by class
    code, _, err = cli(capsys, "map", runs / "conv", "--method", "pca",
                       "--out", runs / "conv" / "plain.png")  # fmt: skip
    assert code == 0, err
    plain = read_png(runs / "conv" / "plain.png", 400, 300)
    assert plain.shape == with_thumbnails.shape and not np.array_equal(plain, with_thumbnails)
    code, _, err = cli(capsys, "map", runs / "conv", "--method", "pca", "--split", "test")
    assert code == 0, err  # beside the validation split's map, not over it
    assert np.load(runs / "conv" / "figures" / "map_pca_test.npy").shape == (40, 2)
    assert np.load(runs / "conv" / "figures" / "map_pca.npy").shape == (60, 2)
    code, _, err = cli(capsys, "map", runs / "conv", "--method", "isomap")
    assert (
        code == 2
        and err.strip()
        == "autoencode: error: unknown --method 'isomap': expected one of tsne, umap, pca"
    )


def test_map_of_unlabelled_data(runs, tmp_path, capsys):
    np.save(tmp_path / "x.npy", synthetic_images(80)[0])
    code, _, err = cli(capsys, "map", runs / "stacked", "--data", tmp_path / "x.npy", "--method", "pca",
                       "--out", tmp_path / "m.png")  # fmt: skip
    assert code == 0, err
    assert_gray(read_png(tmp_path / "m.png", 400, 300))  # no classes: gray points, no legend


def test_evaluate_command(runs, capsys):
    import json

    code, out, err = cli(capsys, "evaluate", runs / "stacked")
    assert code == 0, err
    card = json.loads((runs / "stacked" / "metrics.json").read_text())["evaluation"]
    assert set(card) >= {"bce", "mse", "psnr", "codings", "pca30", "pixels"}
    assert 0 <= card["codings"]["knn5"] <= 1 and card["pixels"]["knn5"] > 0.9
    assert "linear probe" in out


def test_umap_missing_is_one_clear_line(blobs, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_umap(name, *args, **kwargs):
        if name == "umap":
            raise ImportError("No module named 'umap'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_umap)
    with pytest.raises(AutoencodeError, match=r"pip install 'autoencode\[umap\]'"):
        map_codings(blobs[0], "umap")


def test_public_api_names_resolve():
    import autoencode as ae

    for name in ae.__all__:
        assert getattr(ae, name) is not None, name


def test_pretrain_command(runs, capsys):
    import json

    from autoencode.analysis.pretraining import MODES
    from autoencode.cli.pretrain import MODES as CLI_MODES

    assert CLI_MODES == MODES  # the command's copy, kept so that --help needs no torch
    code, out, err = cli(capsys, "pretrain", runs / "stacked", "--labels", 30, "--seeds", 2,
                         "--max-epochs", 2, "--overwrite")  # fmt: skip
    assert code == 0, err
    result = json.loads((runs / "stacked" / "metrics.json").read_text())["pretraining"]["30"]
    assert set(result) == set(MODES)
    assert "[1/8] 30 labels, seed 42, frozen: test accuracy" in out
    assert f"{result['scratch']:.4f} [" in out  # the table: mean [95% interval]
    for bad, said in (("--labels=0,5", "--labels: expected positive integers"),
                      ("--modes=frozen,x", "--modes: expected some of frozen,finetune"),
                      ("--labels=999999", "labels: each count must be between 1 and")):  # fmt: skip
        code, out, err = cli(capsys, "pretrain", runs / "stacked", bad)
        assert code != 0 and said in err and "Traceback" not in err, bad


@pytest.fixture(scope="module")
def labelled_points():
    rng = np.random.default_rng(0)
    labels = np.array([0, 1, 3] * 20)  # class 2 ("shirt") absent
    return rng.normal(size=(60, 2)) + 5 * labels[:, None], labels


def test_map_figure_colours_each_class_and_names_it(labelled_points):
    coords, labels = labelled_points
    fig = map_figure(coords, labels, ("coat", "bag", "shirt", "boot"), title="tsne map")
    (ax,) = fig.axes
    assert ax.get_title() == "tsne map"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["coat", "bag", "boot"]
    assert ax.get_legend().get_title().get_text() == "class"
    assert len(ax.collections) == 3
    for points, c in zip(ax.collections, (0, 1, 3), strict=True):
        np.testing.assert_array_equal(points.get_offsets(), coords[labels == c])
    colours = {tuple(points.get_facecolor()[0]) for points in ax.collections}
    assert len(colours) == 3
    assert len(ax.get_xticks()) == 0 and len(ax.get_yticks()) == 0 and not ax.artists


def test_map_figure_without_labels_or_names(labelled_points):
    coords, labels = labelled_points
    (ax,) = map_figure(coords).axes
    assert ax.get_legend() is None and len(ax.collections) == 1
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), coords)
    (ax,) = map_figure(coords, labels, ("coat", "bag")).axes  # too few names: numbers for the rest
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["coat", "bag", "3"]


@pytest.mark.parametrize("classes", [
    10,
    20,
    25,
])  # fmt: skip
def test_map_figure_gives_each_class_its_own_colour(classes):
    coords = np.random.default_rng(0).normal(size=(4 * classes, 2))
    (ax,) = map_figure(coords, np.arange(4 * classes) % classes).axes
    assert len({tuple(points.get_facecolor()[0]) for points in ax.collections}) == classes


def test_map_figure_thumbnails_show_the_images_at_their_points(labelled_points):
    from matplotlib.offsetbox import AnnotationBbox

    coords, labels = labelled_points
    images = synthetic_images(len(coords), size=8)[0]
    (ax,) = map_figure(coords, labels, images=images).axes
    chosen = spread_points(coords)
    assert 1 < len(chosen) < len(coords)
    assert len(ax.artists) == len(chosen)
    for artist, i in zip(ax.artists, chosen, strict=True):
        assert isinstance(artist, AnnotationBbox)
        np.testing.assert_array_equal(artist.offsetbox.get_data(), images[i])
        np.testing.assert_array_equal(artist.xy, coords[i])
