"""``autoencode evaluate`` on variational runs: the importance-sampled negative log-likelihood
and the negative ELBO in the card, on the command line, and in ``compare``'s numbers."""

import json
import math

import numpy as np
import pytest
import torch

import autoencode as ae
from autoencode.cli.main import main
from autoencode.commands.compare import run_numbers
from autoencode.commands.evaluate import has_likelihood, likelihood
from autoencode.errors import AutoencodeError
from conftest import write_tiny_npz


@pytest.fixture(scope="module")
def vae(tiny_run, tmp_path_factory):
    return tiny_run("vae", tmp_path_factory.mktemp("nll"))


def test_the_card_holds_the_likelihood_of_a_variational_run(vae):
    card = ae.evaluate(vae, baselines=False, samples=0, nll_samples=200)
    scores = card["likelihood"]
    assert scores["samples"] == 200 and scores["images"] == card["n_test"] == 16
    assert math.isfinite(scores["nll"]) and scores["nll"] > 0
    assert scores["nll"] < scores["negative_elbo"]  # 200 draws: a tighter bound than one
    recorded = json.loads((vae / "metrics.json").read_text())["evaluation"]["likelihood"]
    assert recorded == scores
    assert run_numbers(ae.load_run(vae))["test likelihood.nll"] == scores["nll"]  # compare's table


def test_the_negative_elbo_is_the_seed_loss_times_the_pixels(vae):
    run = ae.load_run(vae)
    images = run.load_dataset().test.images
    scores = likelihood(run, images, samples=2000)
    x = torch.from_numpy(images).float().div(255)[:, None].repeat(200, 1, 1, 1)  # 200 draws each
    torch.manual_seed(0)
    with torch.no_grad():
        loss = float(run.model.eval()(x).loss)  # BCE + KL/784, the codings sampled
    assert scores["negative_elbo"] == pytest.approx(784 * loss, rel=1e-3)


def test_the_same_seed_gives_the_same_numbers(vae):
    run = ae.load_run(vae)
    images = run.load_dataset().test.images
    first = likelihood(run, images, samples=30, seed=1)
    assert first == likelihood(run, images, samples=30, seed=1)
    assert first["nll"] != likelihood(run, images, samples=30, seed=2)["nll"]
    more = [likelihood(run, images, samples=k, seed=1)["nll"] for k in (1, 10, 300)]
    assert more[0] > more[1] > more[2]
    with pytest.raises(AutoencodeError, match="at least one draw"):
        likelihood(run, images, samples=0)
    with pytest.raises(AutoencodeError, match="uint8 images of 28×28×1"):
        likelihood(run, images[:, :20], samples=5)


def test_zero_skips_it_and_other_runs_have_none(vae, tiny_run):
    assert "likelihood" not in ae.evaluate(vae, baselines=False, samples=0, nll_samples=0)
    stacked = tiny_run("stacked")
    assert not has_likelihood(ae.load_run(stacked))
    assert "likelihood" not in ae.evaluate(stacked, baselines=False, record=False)
    with pytest.raises(AutoencodeError, match="nll_samples must be >= 0"):
        ae.evaluate(vae, baselines=False, samples=0, nll_samples=-1)


def test_an_iwae_run_is_scored_too(tmp_path):
    data = write_tiny_npz(tmp_path / "tiny.npz")
    run = ae.train("vae", str(data), tmp_path / "i", epochs=1, batch_size=16, progress=False,
                   model={"objective.kind": "iwae", "objective.samples": 3})  # fmt: skip
    card = ae.evaluate(run, baselines=False, samples=0, nll_samples=20, record=False)
    assert np.isfinite(card["likelihood"]["nll"])


def test_the_command_line_prints_it(vae, capsys):
    assert main(["evaluate", str(vae), "--no-baselines", "--samples", "0",
                 "--nll-samples", "50"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "negative log-likelihood " in printed
    assert "nats per image (50 importance draws)" in printed
    assert main(["evaluate", str(vae), "--nll-samples", "-1"]) == 2
    assert "error: --nll-samples must be >= 0" in capsys.readouterr().err
