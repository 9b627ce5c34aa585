"""The importance-sampled log-likelihood of a VAE (``models.likelihood``), against the exact
marginal likelihood of tiny models, integrated on a grid over their one or two codings."""

import math

import pytest
import torch
import torch.nn.functional as F

from autoencode.errors import AutoencodeError
from autoencode.models import ModelConfig, build_model
from autoencode.models.likelihood import bounds, log_weights, nll

IMAGES = 32


def tiny_vae(codings: int, objective: str = "variational") -> torch.nn.Module:
    """A 2×2-pixel VAE in float64 whose decoder's weights are doubled, so that its posterior is
    far from the untrained encoder's Gaussian: the ELBO is several nats below log p(x)."""
    torch.manual_seed(0)
    config = ModelConfig(input_shape=(1, 2, 2), encoder={"kind": "dense", "units": [8]},
                         decoder={"kind": "dense", "units": [8]},
                         objective={"kind": objective, "codings": codings})  # fmt: skip
    model = build_model(config).double().eval()
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(2)
    return model


def grey_images(n: int = IMAGES) -> torch.Tensor:
    return torch.rand(n, 1, 2, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def exact_nll(model, x: torch.Tensor, points: int, span: float = 10.0) -> torch.Tensor:
    """−log ∫ p(x|z) N(z; 0, I) dz by the trapezoid rule on a grid of ``points`` per coding
    (one or two codings) over [−span, span], its log-sum-exp taken a slice of the grid at a
    time; ``(N,)``."""
    line = torch.linspace(-span, span, points, dtype=torch.float64)
    weights = torch.ones(points, dtype=torch.float64)
    weights[0] = weights[-1] = 0.5
    log_step = torch.log(weights * (line[1] - line[0]))
    d = model.objective.codings
    grid = torch.cartesian_prod(*[line] * d).reshape(-1, d)
    log_cell = torch.cartesian_prod(*[log_step] * d).reshape(-1, d).sum(1)
    total = torch.full((len(x),), -math.inf, dtype=torch.float64)
    for z, cell in zip(grid.split(20_000), log_cell.split(20_000), strict=True):
        logits = model.decoder(z)[:, None].expand(-1, len(x), -1, -1, -1)
        log_px = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits),
                                                     reduction="none").flatten(2).sum(-1)  # fmt: skip
        log_pz = -0.5 * (d * math.log(2 * math.pi) + z.square().sum(1))
        total = torch.logaddexp(total, (log_px + (log_pz + cell)[:, None]).logsumexp(0))
    return -total


@pytest.fixture(scope="module")
def one_coding():
    model, x = tiny_vae(1), grey_images()
    return model, x, exact_nll(model, x, 20_001)


@torch.no_grad()
def test_many_draws_give_the_exact_likelihood_of_one_coding(one_coding):
    model, x, exact = one_coding
    estimate = nll(model, x, 20_000, generator=seeded())
    assert float((estimate - exact).abs().max()) < 0.05
    assert abs(float((estimate - exact).mean())) < 0.01
    _, negative_elbo = bounds(model, x, 1, generator=seeded())
    assert float((negative_elbo - exact).mean()) > 2  # so the agreement says something


@torch.no_grad()
def test_the_bound_tightens_with_more_draws(one_coding):
    model, x, exact = one_coding
    means = [float(nll(model, x, k, generator=seeded()).mean()) for k in (1, 10, 1000)]
    assert means[0] > means[1] > means[2] > float(exact.mean()) - 0.01
    assert means[0] - means[2] > 1


@torch.no_grad()
def test_the_elbo_is_the_one_draw_estimate_in_expectation(one_coding):
    model, x, _ = one_coding
    _, negative_elbo = bounds(model, x, 20_000, generator=seeded())
    sampled = -log_weights(model, x, 20_000, generator=seeded(1)).mean(0)  # the KL term sampled
    assert torch.allclose(sampled, negative_elbo, atol=0.3)  # a sampled KL is noisy: ±0.14
    assert float((sampled - negative_elbo).mean().abs()) < 0.02


@torch.no_grad()
def test_two_codings_against_a_two_dimensional_grid():
    model, x = tiny_vae(2), grey_images(8)
    exact = exact_nll(model, x, 801, span=8.0)
    estimate = nll(model, x, 20_000, generator=seeded())
    assert float((estimate - exact).abs().max()) < 0.05
    assert float(nll(model, x, 1, generator=seeded()).mean()) > float(exact.mean()) + 1


@torch.no_grad()
def test_the_same_seed_gives_the_same_number():
    model, x = tiny_vae(1), grey_images()
    first = nll(model, x, 100, generator=seeded(3))
    assert torch.equal(first, nll(model, x, 100, generator=seeded(3)))
    assert torch.equal(nll(model, x, 100, chunk=7, generator=seeded(3)),
                       nll(model, x, 100, chunk=7, generator=seeded(3)))  # fmt: skip
    other = nll(model, x, 100, generator=seeded(4))
    assert not torch.equal(first, other) and abs(float((first - other).mean())) < 0.1
    weights = log_weights(model, x, 5, generator=seeded(3))
    assert weights.shape == (5, IMAGES) and weights.dtype == torch.float64


def test_an_iwae_model_is_variational_too():
    model, x = tiny_vae(1, "iwae"), grey_images()
    with torch.no_grad():
        assert nll(model, x, 10, generator=seeded()).shape == (IMAGES,)


@pytest.mark.parametrize("objective, message", [
    ({"kind": "reconstruction"}, "needs a variational model, not 'reconstruction'"),
    ({"kind": "variational", "codings": 1, "loss": "mse"}, "trained with 'mse'"),
])  # fmt: skip
def test_other_models_are_one_line_errors(objective, message):
    config = ModelConfig(input_shape=(1, 2, 2), encoder={"kind": "dense", "units": [4]},
                         decoder={"kind": "dense", "units": [4]}, objective=objective)  # fmt: skip
    with pytest.raises(AutoencodeError, match=message) as error:
        nll(build_model(config), torch.rand(3, 1, 2, 2), 5)
    assert "\n" not in str(error.value)


def test_no_draws_is_an_error():
    model, x = tiny_vae(1), grey_images()
    for k, chunk in ((0, None), (5, 0)):
        with pytest.raises(AutoencodeError, match="at least one"):
            nll(model, x, k, chunk=chunk)
