"""Autoencoders from parts: an encoder, a decoder and an objective (``models.autoencoder``)."""

import dataclasses
import json

import numpy as np
import pytest
import torch

import autoencode as ae
from autoencode.cli.main import main
from autoencode.data.types import Dataset, Split
from autoencode.errors import ConfigError
from autoencode.models import ModelConfig, build_model
from conftest import synthetic_images, write_image_folder


@pytest.fixture(scope="module")
def rgb_folder(tmp_path_factory):
    """A 3×32×32 image folder of two classes."""
    return write_image_folder(tmp_path_factory.mktemp("rgb"), (32, 32), per_class=12)


def test_tied_weights_are_the_encoders_transposed():
    model = build_model(ae.get_preset("tied").model)
    assert sum(p.numel() for p in model.parameters()) == 82_414
    first, second = (m for m in model.encoder if isinstance(m, torch.nn.Linear))
    tied = [m for m in model.decoder if hasattr(m, "_source")]
    assert [t._source[0] for t in tied] == [second, first]
    assert not [n for n, _ in model.decoder.named_parameters() if n.endswith("weight")]
    model(torch.rand(4, 1, 28, 28)).loss.backward()  # the decoder's error reaches the encoder
    assert first.weight.grad is not None and first.weight.grad.abs().sum() > 0


def test_denoising_corrupts_only_in_training():
    torch.manual_seed(0)
    model = build_model(ae.get_preset("denoising").model)
    x = torch.rand(4, 1, 28, 28)
    model.eval()
    assert torch.equal(model(x).logits, model(x).logits)
    model.train()
    assert not torch.equal(model(x).logits, model(x).logits)


def test_sparse_objectives_add_a_named_term():
    x = torch.rand(8, 1, 28, 28)
    for preset in ("sparse-l1", "sparse-kl"):
        out = build_model(ae.get_preset(preset).model)(x)
        assert set(out.losses) == {"reconstruction", "sparsity"} and out.losses["sparsity"] > 0
    codings = build_model(ae.get_preset("sparse-kl").model).encode(x)
    assert codings.shape == (8, 300) and codings.min() > 0 and codings.max() < 1  # sigmoid codings


def test_beta_weighs_the_kl_term():
    x = torch.rand(8, 1, 28, 28)
    terms = []
    for beta in (1.0, 4.0):
        config = dataclasses.replace(ae.get_preset("vae").model,
                                     objective={"kind": "variational", "beta": beta})  # fmt: skip
        torch.manual_seed(0)
        with torch.no_grad():
            terms.append(build_model(config)(x).losses)
    assert float(terms[1]["kl"]) == pytest.approx(4 * float(terms[0]["kl"]))


def test_a_setting_of_one_part_changes_from_python_and_the_cli(tiny_npz, tmp_path, capsys):
    run = ae.train("beta-vae", tiny_npz, tmp_path / "a", model={"objective.beta": 2.0}, epochs=1,
                   progress=False)  # fmt: skip
    assert run.config.model.objective.beta == 2.0
    argv = ["train", "--preset", "beta-vae", "--data", tiny_npz, "--epochs", "1", "--quiet",
            "--model", "objective.beta=2", "--out", str(tmp_path / "b")]  # fmt: skip
    assert main(argv) == 0
    assert ae.load_run(tmp_path / "b").config.model == run.config.model
    assert main(["train", "--preset", "tied", "--data", tiny_npz, "--model", "nowhere.x=1",
                 "--out", str(tmp_path / "c")]) == 2  # fmt: skip
    assert "--model: 'nowhere.x' names no setting of the model" in capsys.readouterr().err


@pytest.mark.parametrize("parts, message", [
    ({"encoder": {"kind": "lstm"}}, "encoder kind must be one of dense, conv"),
    ({"decoder": {"kind": "conv"}}, "a conv decoder needs a conv encoder"),
    ({"objective": {"kind": "wasserstein"}}, "objective kind must be one of"),
    ({"objective": {"kind": "denoising", "noise": 0}}, "not both zero"),
    ({"objective": {"kind": "sparse_kl", "target": 1.5}}, "0 < target < 1"),
    ({"decoder": {"kind": "dense", "units": [50], "tied": True}}, "tied weights need"),
    ({"encoder": {"kind": "dense", "units": []}}, "at least one layer"),
    ({"encoder": {"kind": "conv"}, "decoder": {"kind": "conv", "kernel_size": 10**30}},
     "kernel_size must lie between"),
    ({"objective": {"kind": "reconstruction", "loss": "hinge"}}, "bce, mse"),
])  # fmt: skip
def test_parts_that_do_not_fit_are_one_clear_error(parts, message):
    with pytest.raises(ConfigError, match=message):
        build_model(ModelConfig(**parts))


def test_noisy_reconstructions_and_their_score(tiny_npz, tmp_path, capsys):
    ae.train("denoising", tiny_npz, tmp_path / "run", epochs=1, progress=False)
    code = main(["reconstruct", str(tmp_path / "run"), "--noise", "0.2", "-n", "4"])
    assert code == 0, capsys.readouterr().err
    figure = ae.reconstruction_figure(*(np.zeros((4, 28, 28), np.uint8),) * 3)
    assert len(figure.axes) == 12  # originals, noisy inputs, reconstructions
    card = ae.evaluate(tmp_path / "run", baselines=False, noise=0.2)
    assert card["noisy_inputs"]["noise"] == 0.2 and card["noisy_inputs"]["mse"] > 0
    recorded = json.loads((tmp_path / "run" / "metrics.json").read_text())["evaluation"]
    assert recorded["noisy_inputs"] == card["noisy_inputs"]


def test_noise_is_seeded_and_clipped():
    from autoencode.data.batches import noisy_images

    images, _ = synthetic_images(5)
    first, again = noisy_images(images, 0.3, seed=1), noisy_images(images, 0.3, seed=1)
    assert np.array_equal(first, again)
    assert first.dtype == np.uint8
    assert not np.array_equal(first, images)
    assert np.array_equal(noisy_images(images, 0.0), images)


def test_a_conv_vae_run_folder_round_trips(tmp_path):
    x, y = synthetic_images(40)
    data = Dataset("t", Split(x[8:], y[8:]), Split(x[:8], y[:8]))
    run = ae.train("conv-vae", data, tmp_path / "r", epochs=1, progress=False)
    again = ae.load_run(tmp_path / "r")
    assert again.config.model == run.config.model
    assert np.array_equal(again.encode(x[:4]), run.encode(x[:4]))


def test_an_objective_added_as_the_readme_shows(tiny_data, tmp_path, monkeypatch):
    from dataclasses import dataclass
    from typing import ClassVar

    from autoencode.models import objectives
    from autoencode.models.objectives import Objective

    @dataclass
    class CodingsNorm(Objective):
        """Reconstruction + weight × the mean squared coding."""

        kind: ClassVar[str] = "codings_norm"
        weight: float = 1e-3

        def losses(self, x, logits, codings, extra):
            return {**super().losses(x, logits, codings, extra),
                    "norm": self.weight * codings.square().mean()}  # fmt: skip

    monkeypatch.setitem(objectives.OBJECTIVES, CodingsNorm.kind, CodingsNorm)
    run = ae.train("tied", tiny_data, tmp_path / "r", model={"objective.kind": "codings_norm"},
                   epochs=2, progress=False)  # fmt: skip
    assert {"loss", "reconstruction", "norm", "val_norm"} <= set(run.history[-1])
    again = ae.load_run(tmp_path / "r")
    assert again.config.model.objective.kind == "codings_norm"
    assert np.array_equal(again.encode(tiny_data.valid.images), run.encode(tiny_data.valid.images))


def test_frozen_parameters_keep_their_values(tiny_data, tmp_path):
    start = ae.train("stacked", tiny_data, tmp_path / "a", epochs=1, progress=False).model
    run = ae.train("stacked", tiny_data, tmp_path / "b", epochs=2, progress=False,
                   freeze=("encoder.1",), weights=start.state_dict())  # fmt: skip
    assert torch.equal(run.model.encoder[1].weight, start.encoder[1].weight)
    assert not torch.equal(run.model.encoder[2].weight, start.encoder[2].weight)
    with pytest.raises(ConfigError, match="freeze: the model has no parameters nowhere"):
        ae.train(
            "stacked", tiny_data, tmp_path / "c", epochs=1, progress=False, freeze=("nowhere",)
        )


@pytest.mark.parametrize("preset", ["stacked", "denoising"])
def test_greedy_layer_wise_training(preset, tiny_npz, tmp_path, capsys):
    argv = ["train", "--preset", preset, "--data", tiny_npz, "--epochs", "2", "--greedy",
            "--out", str(tmp_path / "g"), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    run = ae.load_run(tmp_path / "g")
    outer = {"encoder.1.weight", "encoder.1.bias", "decoder.1.weight", "decoder.1.bias"}
    assert set(run.config.training.freeze) == outer  # phase 2 trained the inner pair alone
    phases = run.folder.read_metrics()["training"]["greedy_phases"]
    assert [p["phase"] for p in phases] == [1, 2] and phases[0]["frozen"] == []
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    after = ae.resume(tmp_path / "g", epochs=3, progress=False).model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in outer)  # a resume keeps them frozen
    assert not torch.equal(before["encoder.2.weight"], after["encoder.2.weight"])


def test_greedy_needs_a_mirrored_dense_model(tiny_data, tmp_path):
    for preset in ("conv", "tied", "vae"):
        with pytest.raises(ConfigError, match="greedy layer-wise training needs"):
            ae.train_greedy(preset, tiny_data, tmp_path / preset, epochs=1, progress=False)


@pytest.mark.parametrize("downsample", ["pool", "stride"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 28, 20), (1, 27, 13)])
def test_conv_parts_take_any_image_size(downsample, shape):
    config = ModelConfig(input_shape=shape, encoder={"kind": "conv", "filters": [8, 16, 16],
                            "downsample": downsample}, decoder={"kind": "conv"})  # fmt: skip
    model = build_model(config)
    x = torch.rand(2, *shape)
    out = model(x)
    assert out.logits.shape == x.shape and torch.isfinite(out.loss)
    strided = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert len(strided) == (3 if downsample == "stride" else 0)


def test_vector_quantized_codings_are_codebook_vectors():
    model = build_model(ae.get_preset("vq").model)
    x = torch.rand(4, 1, 28, 28)
    out = model(x)
    assert set(out.losses) == {"reconstruction", "codebook", "commitment"}
    vectors = out.codings.movedim(1, -1).reshape(-1, 64)  # every 3×3 position's 64-d vector
    codebook = model.head.vectors
    nearest = codebook[torch.cdist(vectors, codebook).argmin(1)]
    assert torch.allclose(vectors, nearest, atol=1e-6)  # up to the straight-through's round-off
    out.loss.backward()  # straight through the quantisation: the encoder learns too
    assert model.encoder[0].weight.grad.abs().sum() > 0 and codebook.grad.abs().sum() > 0
    assert not model.generative


def test_greedy_training_on_colour_images(rgb_folder, tmp_path):
    run = ae.train_greedy("stacked", str(rgb_folder), tmp_path / "g", epochs=1, progress=False)
    assert run.config.model.input_shape == (3, 32, 32) and len(run.history) == 1


def test_review_fixes(tiny_data, tiny_npz, tmp_path, capsys):
    """Pretraining from a VQ run; greedy honours the seed; resume cuts a Dataset to the run's
    sizes; --resume refuses what it cannot change."""
    from autoencode.models.classifier import Classifier

    vq = build_model(ae.get_preset("vq").model)
    classifier = Classifier.from_autoencoder(vq, 4)
    assert classifier(torch.rand(2, 1, 28, 28)).logits.shape == (2, 4)

    a, b = (ae.train_greedy("stacked", tiny_data, tmp_path / f"g{s}", epochs=1, seed=s,
                            progress=False) for s in (1, 2))  # fmt: skip
    assert a.config.training.seed == 1
    assert not torch.equal(a.model.encoder[1].weight, b.model.encoder[1].weight)

    small = tiny_data.subset(train=20, valid=10)
    for name in ("r", "r2"):
        ae.train("stacked", small, tmp_path / name, epochs=1, progress=False)
    resumed = ae.resume(tmp_path / "r", tiny_data, epochs=2, progress=False)  # cut to 20 / 10
    as_trained = ae.resume(tmp_path / "r2", small, epochs=2, progress=False)
    assert resumed.history[-1]["loss"] == as_trained.history[-1]["loss"]

    code = main(["train", "--resume", str(tmp_path / "r"), "--lr", "0.1", "--seed", "3"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "does not take --lr, --seed" in err
