"""Samplers fitted on a run's codings: every model generates, the state reloads without pickle,
the same seed gives the same samples, and each density is sound on data whose density is known."""

import json

import numpy as np
import pytest
import torch

import autoencode as ae
from autoencode.analysis.samplers import fit_code_prior, fit_flow, fit_gmm
from autoencode.cli.main import main
from autoencode.commands.fit_sampler import fit_sampler
from autoencode.errors import AutoencodeError, RunFolderError
from autoencode.models import samplers
from autoencode.run import load_run

PRESETS = list(ae.PRESETS)  # every one, the deterministic ones included


@pytest.fixture(scope="module")
def runs(tiny_run) -> dict:
    """A copy of each preset's tiny run (1 epoch on the tiny .npz: 64 train, 32 valid images)."""
    return {name: load_run(tiny_run(name)) for name in PRESETS}


def two_clusters(n: int, seed: int = 0) -> np.ndarray:
    """Two well-separated Gaussian clusters in 3-d, weights 0.3 / 0.7."""
    rng = np.random.default_rng(seed)
    first = rng.random(n) < 0.3
    return np.where(first[:, None], rng.normal(-4, 0.5, (n, 3)), rng.normal(3, 1.0, (n, 3)))


def true_log_likelihood(x: np.ndarray) -> float:
    from scipy.stats import multivariate_normal as normal

    p = 0.3 * normal(np.full(3, -4), 0.25).pdf(x) + 0.7 * normal(np.full(3, 3), 1.0).pdf(x)
    return float(np.log(p).mean())


def test_the_gmm_recovers_a_known_mixture_and_chooses_its_components():
    train, valid = two_clusters(4000), two_clusters(2000, seed=1)
    gmm, info = fit_gmm(train, valid)
    assert info["components"] == 2, info["candidates"]
    assert sorted(gmm.weights.tolist()) == pytest.approx([0.3, 0.7], abs=0.03)
    assert info["valid_log_likelihood"] == pytest.approx(true_log_likelihood(valid), abs=0.05)
    drawn = gmm.sample(20000, torch.Generator().manual_seed(0)).double().numpy()
    assert (drawn[:, 0] < 0).mean() == pytest.approx(0.3, abs=0.02)
    log_p = gmm.log_prob(torch.from_numpy(valid).float()).mean()
    assert float(log_p) == pytest.approx(info["valid_log_likelihood"], abs=1e-3)


def test_the_flow_learns_a_known_density():
    train, valid = two_clusters(4000).astype(np.float32), two_clusters(2000, 1).astype(np.float32)
    flow, info = fit_flow(train, valid, transforms=3, hidden=32, epochs=40)
    truth = true_log_likelihood(valid)
    assert truth - 0.35 < info["valid_log_likelihood"] < truth + 0.05  # a flow is no better
    drawn = flow.sample(8000, torch.Generator().manual_seed(0)).numpy()
    assert (drawn[:, 0] < 0).mean() == pytest.approx(0.3, abs=0.04)


def test_the_code_prior_learns_a_dependency_between_positions():
    rng = np.random.default_rng(0)
    first = rng.integers(0, 4, 3000)  # position 1 is always position 0 + 4; position 2 is free
    codes = np.stack([first, first + 4, rng.integers(0, 8, 3000)], 1)
    prior, info = fit_code_prior(codes[:2000], codes[2000:], 8, width=32, layers=1, epochs=60)
    assert info["valid_log_likelihood"] > np.log(1 / 4) + np.log(1 / 8) - 0.1  # the entropy
    drawn = prior.sample(500, torch.Generator().manual_seed(0)).numpy()
    assert (drawn[:, 1] == drawn[:, 0] + 4).mean() > 0.95


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_generates_with_a_gmm(runs, name):
    run = runs[name]
    fit = fit_sampler(run, "gmm", components=3)
    assert fit["components"] == 3 and np.isfinite(fit["valid_log_likelihood"])
    again = load_run(run.path)
    a, b = again.sample(6, seed=1, sampler="gmm"), again.sample(6, seed=1, sampler="gmm")
    np.testing.assert_array_equal(a, b)
    assert a.shape == (6, 28, 28) and a.min() >= 0 and a.max() <= 1
    assert not np.array_equal(a, again.sample(6, seed=2, sampler="gmm"))
    assert again.folder.read_metrics()["samplers"]["gmm"]["components"] == 3


def test_the_vq_model_generates_from_its_code_prior(runs):
    run = runs["vq"]
    fit = fit_sampler(run, "codes", name="prior-codes")
    assert fit["kind"] == "codes" and fit["epochs"] >= 1
    z = load_run(run.path).draw_codings(5, seed=0, sampler="prior-codes")
    assert z.shape == (5, *run.model.codings_shape)
    codebook = run.model.head.vectors
    vectors = z.movedim(1, -1).reshape(-1, codebook.shape[1])
    assert all((codebook == v).all(1).any() for v in vectors)  # every position is a code


def test_the_same_seed_fits_the_same_sampler(runs, tmp_path):
    run = runs["stacked"]
    fit_sampler(run, "gmm", name="a", seed=3)
    fit_sampler(run, "gmm", name="b", seed=3)
    a, b = run.folder.load_sampler("a")[0], run.folder.load_sampler("b")[0]
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_the_cli_fits_and_generates(runs, tmp_path, capsys):
    run = runs["conv"]
    assert main(["fit-sampler", str(run.path), "--components", "2"]) == 0
    assert "validation log-likelihood" in capsys.readouterr().out
    out = tmp_path / "s.png"
    assert main(["generate", str(run.path), "--sampler", "gmm", "--out", str(out), "-n", "4"]) == 0
    assert out.stat().st_size > 1000


def test_without_a_prior_or_a_sampler_it_says_what_to_do(runs, capsys):
    path = str(runs["sparse-kl"].path)
    assert main(["generate", path]) == 2
    err = capsys.readouterr().err
    assert "fit-sampler" in err and "--sampler gmm" in err and len(err.strip().splitlines()) == 1
    assert main(["generate", path, "--sampler", "nope"]) == 2
    assert "no sampler 'nope'" in capsys.readouterr().err
    assert main(["generate", path, "--sampler", "../config"]) == 2
    assert "--sampler: expected a sampler name" in capsys.readouterr().err
    with pytest.raises(AutoencodeError, match="needs a vector-quantised model"):
        fit_sampler(runs["stacked"], "codes")
    assert main(["fit-sampler", path, "--components", "65"]) == 2  # 64 training images
    assert "--components: expected 1 to 64" in capsys.readouterr().err


def test_a_sampler_of_another_model_is_refused(runs):
    fit_sampler(runs["vae"], "gmm", name="of-vae", components=1)  # 10 codings
    stacked = runs["stacked"]  # 30 codings
    source = runs["vae"].folder.sampler_file("of-vae")
    target = stacked.folder.sampler_file("of-vae")
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(source.read_bytes())
    with pytest.raises(RunFolderError, match="fitted on 10 codings; the model's are 30"):
        stacked.sample(2, seed=0, sampler="of-vae")


def test_the_file_holds_tensors_and_json_only(runs):
    path = runs["vae"].folder.sampler_file("of-vae")
    if not path.exists():
        fit_sampler(runs["vae"], "gmm", name="of-vae", components=1)
    raw = path.read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    meta = json.loads(header.pop("__metadata__")["json"])
    assert meta["kind"] == "gmm" and meta["settings"] == {"components": 1, "dims": 10}
    assert {v["dtype"] for v in header.values()} == {"F32"}
    assert sorted(header) == ["cholesky", "means", "weights"]
    assert samplers.expected_shapes(meta)[2] == {k: tuple(v["shape"]) for k, v in header.items()}


def test_interpolation_between_two_draws_of_the_sampler(runs, tmp_path):
    run = runs["stacked"]
    fit_sampler(run, "gmm", components=2)
    out = tmp_path / "line.png"
    assert (
        main(["interpolate", str(run.path), "--sampler", "gmm", "--steps", "5", "--out", str(out)])
        == 0
    )
    ends = run.draw_codings(2, 42, "gmm")
    strip = run.decode_line(ends, 5)
    with torch.inference_mode():
        both = run.model.decode(ends)[:, 0].numpy()
    np.testing.assert_allclose(strip[[0, -1]], both, atol=1e-6)
    assert out.stat().st_size > 1000
