"""The presets: the seed's pinned (parameter totals and per-layer shapes equal to the seed's Keras
models), and every one trains from the CLI on greyscale 28×28 images and on 100×75 RGB photos."""

import pytest
import torch

import autoencode as ae
from autoencode.cli.main import main
from autoencode.models import build_model
from autoencode.models.summary import layer_rows
from autoencode.presets import PRESETS, get_preset
from autoencode.training.config import TrainingConfig

# From the seed's Keras model.summary() (channels last), layers with weights or a new shape.
KERAS = {
    "stacked": (163_814, [(100,), (30,), (100,), (784,)]),
    "conv": (
        46_529,
        [
            (28, 28, 16),
            (14, 14, 16),
            (14, 14, 32),
            (7, 7, 32),
            (7, 7, 64),
            (3, 3, 64),
            (7, 7, 32),
            (14, 14, 16),
            (28, 28, 1),
        ],
    ),
    "vae": (269_504, [(150,), (100,), (10,), (10,), (100,), (150,), (784,)]),
}


def keras_layout(shape):
    return (*shape[1:], shape[0]) if len(shape) == 3 else shape


@pytest.mark.parametrize("name", sorted(KERAS))
def test_matches_the_seed(name):
    total, shapes = KERAS[name]
    model = build_model(get_preset(name).model)
    assert sum(p.numel() for p in model.parameters()) == total
    rows = [r for r in layer_rows(model) if r.params or "Pool" in r.kind]
    assert [keras_layout(r.output_shape[1:]) for r in rows] == shapes


def test_seed_training_settings():
    assert get_preset("stacked").training == TrainingConfig(
        epochs=10, batch_size=32, optimizer="sgd", lr=1.5
    )
    assert get_preset("conv").training.epochs == 5 and get_preset("conv").training.lr == 1.5
    vae = get_preset("vae").training
    assert (vae.epochs, vae.batch_size, vae.optimizer, vae.lr) == (50, 128, "rmsprop", 1e-3)
    optimizer = vae.make_optimizer(build_model(get_preset("vae").model).parameters())
    assert optimizer.defaults["alpha"] == 0.9 and optimizer.defaults["eps"] == 1e-7


def test_every_preset_is_documented():
    assert all(len(p.description) > 40 for p in PRESETS.values())


def test_the_fast_presets_sit_beside_the_seeds_with_the_seeds_layers():
    """stacked-fast, conv-fast and vae-fast: the seed's model (the stacked decoder's hidden layer
    SELU; the conv encoder's max-pools replaced by stride-2 convolutions), Adam on the one-cycle
    schedule; the seed's presets unchanged (tests above)."""
    import dataclasses

    from autoencode.cli.demo import steps

    for name in ("stacked", "conv", "vae"):
        fast = get_preset(f"{name}-fast")
        if name != "conv":  # conv-fast: below
            assert fast.model.encoder == get_preset(name).model.encoder
        assert (fast.training.optimizer, fast.training.schedule) == ("adam", "onecycle")
        assert fast.training.epochs < get_preset(name).training.epochs
    assert get_preset("stacked-fast").model.decoder.activation == "selu"
    conv, conv_fast = get_preset("conv").model, get_preset("conv-fast").model
    assert conv.encoder.downsample == "pool" and conv_fast.encoder.downsample == "stride"
    strided = dataclasses.replace(conv.encoder, downsample="stride")
    assert conv_fast == dataclasses.replace(conv, encoder=strided)
    assert get_preset("vae-fast").model == get_preset("vae").model
    trained = [argv[2] for argv in steps("out", fast=True) if argv[0] == "train"]
    assert trained == ["stacked-fast", "conv-fast", "vae-fast"]
    assert ["report", "out/conv-fast"] in steps("out", fast=True)


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("data", ["28x28-grey", "100x75-rgb"])
def test_every_preset_trains_from_the_cli(preset, data, tiny_npz, photo_folder, tmp_path, capsys):
    source = tiny_npz if data == "28x28-grey" else str(photo_folder)
    argv = ["train", "--data", source, "--preset", preset, "--epochs", "1",
            "--out", str(tmp_path / "run"), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    run = ae.load_run(tmp_path / "run")
    assert run.config.model.input_shape == ((1, 28, 28) if data == "28x28-grey" else (3, 75, 100))
    assert len(run.history) == 1
    images = run.load_dataset().valid.images[:3]
    assert run.reconstruct(images).shape == images.shape
    if run.model.generative:
        assert run.sample(2, seed=0).shape == (2, *images.shape[1:])


@pytest.mark.parametrize("side, stages", [(28, 3), (32, 3), (64, 4), (128, 5), (20, 3), (8, 1)])
def test_conv_image_follows_the_image_size(side, stages):
    """conv-image: stride-2 stages down to about 4×4 (the shorter side), channels doubling from
    32 up to 256, 256 flat codings; the same preset at every size, sized when the data is
    known (``resolve``)."""
    from autoencode.commands.train import resolve
    from autoencode.models.autoencoder import build_model

    model, _ = resolve("conv-image", None, None, {}, (3, side, side + 4))
    assert model.input_shape == (3, side, side + 4)
    assert list(model.encoder.filters) == [min(32 << i, 256) for i in range(stages)]
    built = build_model(model)
    x = torch.rand(2, 3, side, side + 4)
    assert built.encode(x).shape == (2, 256)
    assert built.reconstruct(x).shape == x.shape
