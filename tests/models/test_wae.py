"""The Wasserstein autoencoder with the MMD penalty (``wae``, Tolstikhin et al. 2018): the MMD
estimate itself, its term, its prior and samples, its settings and its run folder."""

import numpy as np
import pytest
import torch

import autoencode as ae
from autoencode.errors import ConfigError
from autoencode.models import ModelConfig, build_model
from autoencode.models.objectives.wae import imq_mmd, squared_distances

SMALL_ENCODER = {"kind": "dense", "units": [32]}
SMALL_DECODER = {"kind": "dense", "units": [32], "activation": "selu"}


def draws(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    return shift + scale * torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_the_mmd_of_the_prior_itself_is_near_zero_and_of_shifted_draws_is_not():
    same = torch.stack([imq_mmd(draws(128, 10, s), draws(128, 10, 1000 + s)) for s in range(40)])
    assert abs(float(same.mean())) < 3 * float(same.std()) / np.sqrt(40)  # unbiased: no offset
    assert float(same.abs().max()) < 0.05
    shifted = imq_mmd(draws(128, 10, 0, shift=1.0), draws(128, 10, 1))
    assert float(shifted) > 10 * float(same.abs().max())
    narrow = imq_mmd(draws(128, 10, 0, scale=0.3), draws(128, 10, 1))  # collapsed codings
    assert float(narrow) > 10 * float(same.abs().max())


def test_the_mmd_follows_the_priors_scale():
    wide = draws(256, 8, 0, scale=3.0)
    assert abs(float(imq_mmd(wide, draws(256, 8, 1, scale=3.0), variance=9.0))) < 0.05
    assert float(imq_mmd(wide, draws(256, 8, 1), variance=1.0)) > 0.5


def test_squared_distances_and_small_batches():
    a, b = draws(5, 3, 0), draws(4, 3, 1)
    assert torch.allclose(squared_distances(a, b), torch.cdist(a, b) ** 2, atol=1e-5)
    assert float(squared_distances(a, a).diagonal().min()) >= 0
    one = draws(1, 3, 0).requires_grad_()
    value = imq_mmd(one, draws(1, 3, 1))
    assert float(value.detach()) == 0.0
    value.backward()  # a batch of one says nothing, and still trains
    assert one.grad is not None


def test_the_term_is_named_finite_and_weighed():
    x = torch.rand(8, 1, 28, 28)
    terms = []
    for weight in (1.0, 3.0):
        config = ModelConfig(encoder=SMALL_ENCODER, decoder=SMALL_DECODER,
                             objective={"kind": "wae", "codings": 4, "weight": weight})  # fmt: skip
        torch.manual_seed(0)
        model = build_model(config)
        out = model(x)
        assert set(out.losses) == {"reconstruction", "mmd"}
        assert all(torch.isfinite(v) and v.ndim == 0 for v in out.losses.values())
        out.loss.backward()
        assert all(p.grad is not None for p in model.parameters())
        terms.append(float(out.losses["mmd"].detach()))
    assert terms[1] == pytest.approx(3 * terms[0], rel=1e-5)  # the same seed, the same draws


def test_the_penalty_pulls_the_codings_to_the_prior(tiny_data, tmp_path):
    def trained(weight, name):
        model = {"kind": "autoencoder", "encoder": SMALL_ENCODER, "decoder": SMALL_DECODER,
                 "objective": {"kind": "wae", "codings": 4, "weight": weight}}  # fmt: skip
        return ae.train(None, tiny_data, tmp_path / name, model=model, epochs=8, batch_size=16,
                        optimizer="adam", lr=3e-3, seed=0, progress=False)  # fmt: skip

    def distance_to_prior(run):
        z = torch.from_numpy(run.encode(tiny_data.train.images))
        return float(imq_mmd(z, torch.randn(len(z), 4, generator=torch.Generator().manual_seed(0))))

    pulled, free = trained(10.0, "pulled"), trained(0.0, "free")
    assert distance_to_prior(pulled) < 0.5 * distance_to_prior(free)


def test_the_prior_is_normal_of_the_given_scale_in_the_codings_shape():
    model = build_model(ModelConfig(encoder={"kind": "conv"}, decoder={"kind": "conv"},
                                    objective={"kind": "wae", "scale": 2.0}))  # fmt: skip
    assert model.generative and model.codings_shape == (64, 3, 3)  # the conv block, unflattened
    z = model.objective.prior(4000, model.codings_shape, torch.Generator().manual_seed(0))
    assert z.shape == (4000, 64, 3, 3) and float(z.std()) == pytest.approx(2.0, rel=0.01)
    again = model.objective.prior(4000, model.codings_shape, torch.Generator().manual_seed(0))
    assert torch.equal(z, again)
    with torch.no_grad():
        samples = model.sample(3, torch.Generator().manual_seed(0))
    assert samples.shape == (3, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1


@pytest.mark.parametrize("settings, message", [
    ({"scale": 0.0}, "0 < scale <= 1e"),
    ({"scale": 1e9}, "0 < scale <= 1e"),
    ({"weight": -1.0}, "wae needs weight >= 0"),
    ({"codings": 0}, "wae codings must lie between 1"),
    ({"codings": 2.5}, "codings must be an integer"),
    ({"weight": float("nan")}, "weight must be a finite number"),
    ({"kernel": "rbf"}, "unknown wae objective setting"),
])  # fmt: skip
def test_bad_settings_are_one_config_error(settings, message):
    with pytest.raises(ConfigError, match=message) as error:
        ModelConfig(objective={"kind": "wae", **settings})
    assert "\n" not in str(error.value)


def test_a_conv_wae_trains_reloads_and_samples(tiny_data, tmp_path):
    run = ae.train("conv-wae", tiny_data, tmp_path / "w", epochs=2, batch_size=16, progress=False)
    assert {"reconstruction", "mmd", "val_reconstruction", "val_mmd"} <= set(run.history[-1])
    assert all(np.isfinite(v) for v in run.history[-1].values())
    again = ae.load_run(tmp_path / "w")
    assert again.config.model == run.config.model and again.model.generative
    images = tiny_data.valid.images
    assert np.array_equal(again.encode(images), run.encode(images))
    samples = again.sample(6, seed=1)
    assert samples.shape == (6, *images.shape[1:]) and samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1
    assert np.array_equal(samples, run.sample(6, seed=1))
    assert not np.array_equal(samples, again.sample(6, seed=2))
