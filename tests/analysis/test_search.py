"""Codings put to work: exact nearest neighbours, similarity search, anomaly scores."""

import numpy as np
import pytest

import autoencode as ae
from autoencode.analysis.anomaly import fit_scorer, reconstruction_errors
from autoencode.cli.main import main
from conftest import synthetic_images


def brute_force(queries, database, k, metric="euclidean", exclude=None):
    if metric == "cosine":
        unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
        distance = 1 - unit(queries) @ unit(database).T
    else:
        distance = np.sqrt(((queries[:, None] - database[None]) ** 2).sum(-1))
    if exclude is not None:
        distance[np.arange(len(queries)), exclude] = np.inf
    order = np.lexsort((np.broadcast_to(np.arange(len(database)), distance.shape), distance))
    return order[:, :k], np.take_along_axis(distance, order[:, :k], 1)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_nearest_is_exact_in_chunks(metric):
    rng = np.random.default_rng(0)
    database = rng.normal(size=(300, 7)).astype(np.float32)
    database[50] = database[10]  # a tie: the lower index first
    queries = np.concatenate([database[[10, 3]], rng.normal(size=(9, 7)).astype(np.float32)])
    found, distances = ae.nearest(queries, database, 6, metric, query_chunk=4, database_chunk=17)
    want, want_d = brute_force(queries.astype(np.float64), database.astype(np.float64), 6, metric)
    np.testing.assert_array_equal(found, want)
    np.testing.assert_allclose(distances, want_d, atol=1e-9)
    assert list(found[0, :2]) == [10, 50]


def test_nearest_can_exclude_each_query_itself():
    database = np.random.default_rng(1).normal(size=(40, 3))
    found, _ = ae.nearest(database, database, 3, exclude=np.arange(40), database_chunk=9)
    want, _ = brute_force(database, database, 3, exclude=np.arange(40))
    np.testing.assert_array_equal(found, want)
    assert not (found == np.arange(40)[:, None]).any()


def test_nearest_refuses_what_it_cannot_do():
    with pytest.raises(ae.AutoencodeError, match="k must lie between 1 and 5"):
        ae.nearest(np.zeros((2, 3)), np.zeros((5, 3)), 6)
    with pytest.raises(ae.AutoencodeError, match="3 dimensions, the database 4"):
        ae.nearest(np.zeros((2, 3)), np.zeros((5, 4)), 1)
    with pytest.raises(ae.AutoencodeError, match="finite"):
        ae.nearest(np.full((2, 3), np.nan), np.zeros((5, 3)), 1)
    with pytest.raises(ae.AutoencodeError, match="unknown metric 'manhattan'"):
        ae.nearest(np.zeros((2, 3)), np.zeros((5, 3)), 1, "manhattan")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search")
    images, labels = synthetic_images(160)
    data = folder / "tiny.npz"
    np.savez(data, x_train=images[60:], y_train=labels[60:], x_valid=images[:30],
             y_valid=labels[:30], x_test=images[30:60], y_test=labels[30:60],
             class_names=np.array(["a", "b", "c", "d"]))  # fmt: skip
    return ae.train("stacked", str(data), folder / "run", epochs=2, batch_size=16, progress=False)


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_search_finds_the_nearest_codings(run, tmp_path, capsys):
    data = run.load_dataset()
    result, written = ae.save_search(run, [0, 5], k=4, out=tmp_path / "s.png",
                                     csv=tmp_path / "s.csv")  # fmt: skip
    train, test = ae.embed(run, data.train.images), ae.embed(run, data.test.images)
    want, _ = brute_force(test[[0, 5]].astype(np.float64), train.astype(np.float64), 4)
    np.testing.assert_array_equal(result.indices, want)
    assert list(result.labels) == list(data.test.labels[[0, 5]])
    rows = np.genfromtxt(written[1], delimiter=",", names=True, dtype=None, encoding="utf-8",
                         comments=None)  # fmt: skip
    assert len(rows) == 8 and list(rows["index"][:4]) == list(want[0])
    assert set(rows["class"]) <= {"a", "b", "c", "d"}
    code, _, err = cli(capsys, "search", run.path, 0, 5, "-k", 4, "--out", tmp_path / "c.png",
                         "--csv", tmp_path / "c.csv")  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "c.csv").read_text() == written[1].read_text()  # the CLI, the same


def test_search_within_the_queries_own_split_skips_each_query(run):
    result, _ = ae.save_search(run, [3, 7], within="train", query_split="train", k=3)
    assert 3 not in result.indices[0] and 7 not in result.indices[1]


def test_search_by_image_file(run, tmp_path, capsys):
    from PIL import Image

    image = run.load_dataset().test.images[2]
    Image.fromarray(image).save(tmp_path / "q.png")
    by_file, _ = ae.save_search(run, [str(tmp_path / "q.png")], k=5)
    by_index, _ = ae.save_search(run, [2], k=5)
    np.testing.assert_array_equal(by_file.indices, by_index.indices)
    Image.fromarray(np.zeros((20, 28), np.uint8)).save(tmp_path / "small.png")
    green = np.zeros((28, 28, 3), np.uint8)
    green[..., 1] = 90
    Image.fromarray(green).save(tmp_path / "rgb.png")
    for name, said in [("small.png", "is 28×20 with 1 channel(s)"),
                       ("rgb.png", "is 28×28 with 3 channel(s)")]:  # fmt: skip
        code, _, err = cli(capsys, "search", run.path, tmp_path / name)
        assert code == 2 and err.count("\n") == 1, err
        assert f"{tmp_path / name}: {said}; the model takes 28×28 images with 1 channel(s)" in err
    code, _, err = cli(capsys, "search", run.path, 30)  # the test split holds 30 images
    assert code == 2 and "query 30: outside the split (0 to 29)" in err


def test_codings_and_errors_are_one_pass_of_encode_and_reconstruct(run):
    images = run.load_dataset().test.images
    codings, errors = run.codings_and_errors(images, batch_size=7)  # batches of unequal size
    # another batch size rounds apart in the last float32 digits, nothing more
    np.testing.assert_allclose(codings, run.encode(images).reshape(len(images), -1), atol=1e-5)
    by_hand = ((run.reconstruct(images).astype(np.float64) - images / 255.0) ** 2).mean((1, 2))
    np.testing.assert_allclose(errors, by_hand, rtol=1e-5)
    assert codings.dtype == np.float32 and errors.dtype == np.float64


def test_scores_and_their_threshold(run, tmp_path):
    result = ae.save_scores(run, "test", by="both", fpr=0.1, out=tmp_path / "s.csv",
                            figure=tmp_path / "a.png")  # fmt: skip
    data = run.load_dataset()
    np.testing.assert_allclose(
        result["reconstruction"], reconstruction_errors(run, data.test.images)
    )
    scorer = fit_scorer(run, data)
    valid_both = scorer.combine(scorer.valid, "both")
    assert abs(valid_both.mean()) < 1e-9  # standardised on the validation split
    assert result["valid_fpr"] <= 0.1 and result["flagged"] == int(
        (result["scores"] > result["threshold"]).sum()
    )
    rows = np.genfromtxt(result["csv"], delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert rows.dtype.names == ("index", "label", "class", "reconstruction", "codings", "score",
                                "flagged")  # fmt: skip
    again = ae.save_scores(run, "test", by="both", fpr=0.1, out=tmp_path / "t.csv",
                           figure=tmp_path / "b.png")  # fmt: skip
    assert again["csv"].read_text() == result["csv"].read_text()  # deterministic


def test_score_rules_and_bad_input(run, tmp_path, capsys):
    data = run.load_dataset()
    scorer = fit_scorer(run, data, k=3)
    signals = scorer.signals(data.test.images)
    np.testing.assert_array_equal(scorer.combine(signals, "codings"), signals["codings"])
    for fpr in ("0", "1", "1.5", "-0.1"):
        code, _, err = cli(capsys, "score", run.path, "--fpr", fpr)
        assert code == 2 and err.strip() == (
            f"autoencode: error: --fpr must lie strictly between 0 and 1, got {float(fpr)}")  # fmt: skip
    code, _, err = cli(capsys, "score", run.path, "--by", "vibes")
    assert code == 2 and "unknown --by 'vibes'" in err
    no_valid = ae.Dataset("bare", data.train, None, data.test)
    with pytest.raises(ae.DataError, match="has no validation split"):
        ae.save_scores(run, reference=no_valid, out=tmp_path / "x.csv")
    code, out, err = cli(capsys, "score", run.path, "--fpr", "0.05", "--out", tmp_path / "c.csv")
    assert code == 0, err
    assert "flagged" in out and (tmp_path / "c.csv").is_file()
