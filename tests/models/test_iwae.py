"""The importance-weighted autoencoder (``iwae``, Burda et al. 2016): its bound against the VAE's
loss, its tightening with more draws, its settings and its run folder."""

import dataclasses

import numpy as np
import pytest
import torch

import autoencode as ae
from autoencode.errors import ConfigError
from autoencode.models import ModelConfig, build_model

SEED_VAE = ae.get_preset("vae").model


def with_objective(objective: dict, like: torch.nn.Module | None = None) -> torch.nn.Module:
    """The seed VAE's layers with ``objective``, with the weights of ``like`` if given."""
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(SEED_VAE, objective=objective))
    if like is not None:
        model.load_state_dict(like.state_dict())
    return model


def images(n: int, repeat: int = 1) -> torch.Tensor:
    x = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    return x.repeat(repeat, 1, 1, 1)


@torch.no_grad()
def test_one_draw_is_the_vaes_loss_with_the_kl_term_sampled():
    vae = with_objective({"kind": "variational", "codings": 10})
    iwae = with_objective({"kind": "iwae", "codings": 10, "samples": 1}, like=vae)
    x = images(8, repeat=500)  # 500 draws of each of 8 images
    torch.manual_seed(3)
    seed = vae(x)
    torch.manual_seed(3)
    out = iwae(x)
    assert set(out.losses) == {"iwae"} and out.losses["iwae"].ndim == 0
    assert torch.equal(out.logits, seed.logits) and torch.equal(out.codings, seed.codings)
    assert float(out.loss) == pytest.approx(float(seed.loss), rel=2e-3)  # KL sampled, not analytic
    assert float(out.loss - seed.losses["reconstruction"]) == pytest.approx(
        float(seed.losses["kl"]), rel=0.1
    )


@torch.no_grad()
def test_more_draws_give_a_lower_bound():
    x, losses = images(200), []
    vae = with_objective({"kind": "variational", "codings": 10})
    for samples in (1, 10, 100):
        torch.manual_seed(0)
        model = with_objective({"kind": "iwae", "codings": 10, "samples": samples}, like=vae)
        out = model(x)
        assert out.logits.shape == x.shape and out.codings.shape == (200, 10)  # the first draw's
        losses.append(float(out.loss))
    assert losses[0] > losses[1] > losses[2]


def test_the_bound_trains_every_weight():
    model = with_objective({"kind": "iwae", "samples": 5})
    model(images(4)).loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("settings, message", [
    ({"samples": 0}, "iwae needs 1 <= samples <= 1000, got 0"),
    ({"samples": 1001}, "iwae needs 1 <= samples <= 1000"),
    ({"samples": 2.5}, "samples must be an integer"),
    ({"beta": 2.0}, "it needs beta 1 and the bce loss"),
    ({"loss": "mse"}, "it needs beta 1 and the bce loss"),
    ({"codings": 0}, "variational needs 1 <= codings"),
    ({"draws": 5}, "unknown iwae objective setting"),
])  # fmt: skip
def test_bad_settings_are_one_config_error(settings, message):
    with pytest.raises(ConfigError, match=message) as error:
        ModelConfig(objective={"kind": "iwae", **settings})
    assert "\n" not in str(error.value)


def test_an_iwae_trains_reloads_and_samples(tiny_data, tmp_path):
    model = {"kind": "autoencoder", "encoder": {"kind": "dense", "units": [32]},
             "decoder": {"kind": "dense", "units": [32]},
             "objective": {"kind": "iwae", "samples": 5, "codings": 4}}  # fmt: skip
    run = ae.train(None, tiny_data, tmp_path / "i", model=model, epochs=2, batch_size=16,
                   optimizer="adam", lr=3e-3, seed=0, progress=False)  # fmt: skip
    assert {"loss", "val_loss"} <= set(run.history[-1])  # one term: the loss is the bound
    assert all(np.isfinite(v) for v in run.history[-1].values())
    assert run.history[-1]["loss"] < run.history[0]["loss"]
    again = ae.load_run(tmp_path / "i")
    assert again.config.model.objective.samples == 5 and again.model.generative
    images_ = tiny_data.valid.images
    assert np.array_equal(again.encode(images_), run.encode(images_))
    assert np.array_equal(again.sample(6, seed=1), run.sample(6, seed=1))


def test_the_seed_vae_becomes_an_iwae_by_two_settings(tiny_npz, tmp_path):
    run = ae.train("vae", tiny_npz, tmp_path / "v", epochs=1, progress=False,
                   model={"objective.kind": "iwae", "objective.samples": 3})  # fmt: skip
    objective = run.config.model.objective
    assert (objective.kind, objective.samples, objective.codings) == ("iwae", 3, 10)
