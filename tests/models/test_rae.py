"""The regularised autoencoder (``rae``, Ghosh et al. 2020): its terms, what each one does to
training, the gradient penalty against finite differences, its settings and its run folder."""

import numpy as np
import pytest
import torch
from torch import nn

import autoencode as ae
from autoencode.errors import ConfigError
from autoencode.models import ModelConfig, build_model
from autoencode.models.classifier import Classifier
from autoencode.models.objectives.rae import codings_norm, decoder_l2, gradient_penalty

SMALL_ENCODER = {"kind": "dense", "units": [32]}
SMALL_DECODER = {"kind": "dense", "units": [32], "activation": "selu"}


def small_model(**objective) -> nn.Module:
    """A small dense RAE (784→32→4 codings | 4→32→784) with the objective's settings."""
    config = ModelConfig(encoder=SMALL_ENCODER, decoder=SMALL_DECODER,
                         objective={"kind": "rae", "codings": 4, **objective})  # fmt: skip
    return build_model(config)


def train_small(data, out, epochs=6, **objective) -> ae.Run:
    model = {"kind": "autoencoder", "encoder": SMALL_ENCODER, "decoder": SMALL_DECODER,
             "objective": {"kind": "rae", "codings": 4, **objective}}  # fmt: skip
    return ae.train(None, data, out, model=model, epochs=epochs, batch_size=16, optimizer="adam",
                    lr=3e-3, seed=0, progress=False)  # fmt: skip


@pytest.mark.parametrize("decoder, terms", [
    ("l2", {"reconstruction", "norm", "l2"}),
    ("gp", {"reconstruction", "norm", "gp"}),
    ("none", {"reconstruction", "norm"}),
])  # fmt: skip
def test_each_term_is_named_finite_and_weighed(decoder, terms):
    torch.manual_seed(0)
    model = small_model(decoder=decoder, beta=0.5, weight=0.25)
    x = torch.rand(8, 1, 28, 28)
    out = model(x)
    assert set(out.losses) == terms
    assert all(v.ndim == 0 and torch.isfinite(v) and v > 0 for v in out.losses.values())
    z = model.encode(x)
    assert torch.allclose(out.losses["norm"], 0.5 * 0.5 * z.square().sum(1).mean())
    if decoder == "l2":
        kernels = [m.weight for m in model.decoder if isinstance(m, nn.Linear)]
        assert torch.allclose(out.losses["l2"], 0.25 * sum(w.square().sum() for w in kernels))
    out.loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.inference_mode():  # validation: the same terms, the gradient penalty included
        assert set(model(x).losses) == terms
    assert not model.generative
    with pytest.raises(ConfigError, match="not generative"):
        model.sample(2)


def test_the_codings_come_through_a_dense_head_or_straight_from_the_encoder():
    x = torch.rand(4, 1, 28, 28)
    conv = build_model(ae.get_preset("conv-rae").model)
    assert conv.codings_shape == (10,) and conv.encode(x).shape == (4, 10)
    assert torch.equal(conv.encoder_network()(x), conv.encode(x))  # what pretraining copies
    assert Classifier.from_autoencoder(conv, 3)(x).logits.shape == (4, 3)
    block = build_model(ModelConfig(encoder={"kind": "conv"}, decoder={"kind": "conv"},
                                    objective={"kind": "rae"}))  # fmt: skip
    assert block.codings_shape == (64, 3, 3) and block.head is None
    assert torch.isfinite(block(x).loss)
    dense = build_model(ae.get_preset("rae").model)
    vae = build_model(ae.get_preset("vae").model)
    assert sum(p.numel() for p in dense.parameters()) == (
        sum(p.numel() for p in vae.parameters()) - 1010  # the VAE less its log-variance layer
    )


def codings_size(run, data) -> float:
    return float(np.sqrt((run.encode(data.valid.images) ** 2).sum(1)).mean())


def test_beta_shrinks_the_codings(tiny_data, tmp_path):
    free = train_small(tiny_data, tmp_path / "free", beta=0.0, decoder="none")
    pulled = train_small(tiny_data, tmp_path / "pulled", beta=0.05, decoder="none")
    assert codings_size(pulled, tiny_data) < 0.5 * codings_size(free, tiny_data)
    assert pulled.history[-1]["norm"] > 0 and free.history[-1]["norm"] == 0


def test_the_l2_term_shrinks_the_decoders_weights_only(tiny_data, tmp_path):
    free = train_small(tiny_data, tmp_path / "free", beta=0.0, decoder="l2", weight=0.0)
    pulled = train_small(tiny_data, tmp_path / "pulled", beta=0.0, decoder="l2", weight=1e-2)
    with torch.no_grad():
        assert decoder_l2(pulled.model.decoder) < 0.8 * decoder_l2(free.model.decoder)
        assert float(decoder_l2(pulled.model.encoder)) == pytest.approx(
            float(decoder_l2(free.model.encoder)), rel=0.5
        )


def jacobian_size(run, data) -> float:
    """The decoder's ‖∂D(z)/∂z‖² per pixel at the validation codings (20 draws averaged), times
    the codings' variance: what stretching the codings cannot change."""
    z = torch.from_numpy(run.encode(data.valid.images))
    torch.manual_seed(0)
    with torch.no_grad():
        penalty = torch.stack([gradient_penalty(run.model.decoder, z) for _ in range(20)]).mean()
    return float(penalty) * float(z.var(0).mean())


def test_the_gradient_penalty_smooths_the_decoder(tiny_data, tmp_path):
    free = train_small(tiny_data, tmp_path / "free", beta=0.0, decoder="gp", weight=0.0)
    pulled = train_small(tiny_data, tmp_path / "pulled", beta=0.0, decoder="gp", weight=100.0)
    assert jacobian_size(pulled, tiny_data) < 0.5 * jacobian_size(free, tiny_data)
    assert "val_gp" in pulled.history[-1]


def tiny_decoder() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 6), nn.SELU(), nn.Linear(6, 4), nn.Unflatten(1, (1, 2, 2)))


def test_the_gradient_penalty_matches_finite_differences():
    decoder = tiny_decoder().double()
    z = torch.randn(5, 3, dtype=torch.float64)
    v = torch.randn(5, 1, 2, 2, dtype=torch.float64)

    def images(codings):
        return torch.sigmoid(decoder(codings)).flatten(1)  # (5, 4)

    eps, columns = 1e-6, []
    with torch.no_grad():
        for i in range(3):
            step = torch.zeros(3, dtype=torch.float64)
            step[i] = eps
            columns.append((images(z + step) - images(z - step)) / (2 * eps))
    jacobian = torch.stack(columns, dim=-1)  # (5, pixels 4, codings 3)
    vjp = torch.einsum("np,npc->nc", v.flatten(1), jacobian)
    expected = vjp.square().sum(1).mean() / 4
    with torch.no_grad():  # the penalty's own gradients need no graph of ours
        penalty = gradient_penalty(decoder, z, v)
        # random directions: an unbiased estimate of the Jacobian's squared Frobenius norm
        torch.manual_seed(1)
        draws = torch.stack([gradient_penalty(decoder, z) for _ in range(4000)])
    assert float(penalty) == pytest.approx(float(expected), rel=1e-6)
    frobenius = jacobian.square().sum((1, 2)).mean() / 4
    assert float(draws.mean()) == pytest.approx(float(frobenius), rel=0.05)


def test_the_gradient_penalty_trains_the_decoder_and_leaves_the_codings():
    decoder = tiny_decoder()
    z = torch.randn(5, 3, requires_grad=True)
    gradient_penalty(decoder, z).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in decoder.parameters())
    assert z.grad is None  # taken at the codings detached
    with torch.inference_mode():
        assert torch.isfinite(gradient_penalty(decoder, z))


def test_codings_norm_is_half_the_squared_norm():
    z = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    assert float(codings_norm(z)) == pytest.approx(0.5 * 25 / 2)
    assert float(codings_norm(torch.ones(2, 2, 3, 3))) == pytest.approx(9.0)  # a block flattened


def test_an_unset_weight_is_the_regularisers_own_default():
    l2, gp = (ModelConfig(objective={"kind": "rae", "decoder": d}).objective for d in ("l2", "gp"))
    assert (l2.weight, l2.decoder_weight, gp.decoder_weight) == (None, 1e-5, 1.0)
    changed = ae.get_preset("conv-rae").model.to_dict()  # as --model objective.decoder=gp does
    changed["objective"]["decoder"] = "gp"
    assert build_model(changed).objective.decoder_weight == 1.0
    assert ModelConfig(objective={"kind": "rae", "weight": 0.5}).objective.decoder_weight == 0.5


@pytest.mark.parametrize("settings, message", [
    ({"decoder": "l1"}, "rae decoder must be one of l2, gp, none"),
    ({"beta": -1.0}, "beta >= 0 and weight >= 0"),
    ({"weight": -1e-3}, "beta >= 0 and weight >= 0"),
    ({"codings": 0}, "rae codings must lie between 1"),
    ({"beta": "big"}, "beta must be a finite number"),
    ({"decoder": None}, "decoder must be a string"),
    ({"samples": 5}, "unknown rae objective setting"),
])  # fmt: skip
def test_bad_settings_are_one_config_error(settings, message):
    with pytest.raises(ConfigError, match=message) as error:
        ModelConfig(objective={"kind": "rae", **settings})
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("objective", [{}, {"decoder": "gp", "weight": 1e-2}])
def test_a_conv_rae_trains_and_reloads_from_its_run_folder(objective, tiny_data, tmp_path):
    model = {f"objective.{k}": v for k, v in objective.items()}
    run = ae.train("conv-rae", tiny_data, tmp_path / "r", model=model, epochs=2, batch_size=16,
                   progress=False)  # fmt: skip
    terms = {"reconstruction", "norm", objective.get("decoder", "l2")}
    assert terms | {f"val_{t}" for t in terms} <= set(run.history[-1])
    assert all(np.isfinite(v) for v in run.history[-1].values())
    again = ae.load_run(tmp_path / "r")
    assert again.config.model == run.config.model and again.config.model.objective.kind == "rae"
    images = tiny_data.valid.images
    assert np.array_equal(again.encode(images), run.encode(images))
    assert again.encode(images).shape == (len(images), 10)
    assert not again.model.generative
