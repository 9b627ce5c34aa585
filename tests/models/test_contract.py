"""The contract every model meets, over every preset's model (several input shapes) and the
classifier built on each: parametrized, never copied per model."""

import dataclasses
import json
import math

import pytest
import torch

from autoencode.commands.train import train
from autoencode.data.batches import image_tensor, to_float
from autoencode.errors import ConfigError
from autoencode.io import load_tensors, save_tensors
from autoencode.models import ModelConfig, build_model, config_from_dict
from autoencode.models.classifier import Classifier
from autoencode.presets import PRESETS
from autoencode.training.config import TrainingConfig
from conftest import synthetic_images

# every preset whose model is not an earlier preset's (conv-fast and vae-fast train the seed's)
MODELS = {}
for _name, _preset in PRESETS.items():
    if _preset.model not in MODELS.values():
        MODELS[_name] = _preset.model
NAMES = list(MODELS)
FASHION_MNIST = (1, 28, 28)
SHAPES = [
    FASHION_MNIST,
    (3, 32, 32),  # colour
    (1, 8, 8),  # small: three pooling stages down to 1×1
    (1, 28, 20),  # not square: odd stage sizes on both sides
    (3, 24, 16),  # not square, colour
    (1, 28, 16),  # not square: one side upsamples `valid`, the other `same`
    (1, 4, 4),  # too small for three pooling stages
    (3, 75, 100),  # a photo: 100×75 RGB
]
N_CLASSES = 5


def shape_id(shape) -> str:
    return "x".join(map(str, shape))


def config_for(preset: str, shape: tuple[int, int, int]) -> ModelConfig:
    """The preset's model config, for images of ``shape``."""
    return dataclasses.replace(MODELS[preset], input_shape=shape)


def builds(preset: str, shape: tuple[int, int, int]) -> bool:
    """Whether the preset's model takes ``shape`` (on the meta device: costs nothing)."""
    try:
        build_model(config_for(preset, shape), device="meta")
    except ConfigError:
        return False
    return True


def random_images(shape, n=4, seed=0) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


def synthetic_batch(n=8, seed=0) -> torch.Tensor:
    images, _ = synthetic_images(n, seed)
    return to_float(image_tensor(images, torch.device("cpu")))


def says_what_is_wrong(message: str, config_cls, shape) -> bool:
    """A refusal names the input shape (in some spelling) or one of the config's settings."""
    _, h, w = shape
    spellings = ["input_shape", str(list(shape)), str(tuple(shape)), str((h, w)), f"{h}×{w}"]
    settings = [f.name for f in dataclasses.fields(config_cls)]
    return any(word in message for word in spellings + settings)


def assert_is_a_scalar_loss(value: torch.Tensor) -> None:
    assert value.ndim == 0 and torch.isfinite(value), value


@pytest.mark.parametrize(
    "preset, shape",
    [
        pytest.param(preset, shape, id=f"{preset}-{shape_id(shape)}")
        for preset in NAMES
        for shape in SHAPES
    ],
)
def test_contract(preset, shape):
    """Building the preset's model for ``shape`` either works, and then every method gives the
    right shapes (the classifier on top too), or is refused with one ConfigError that says why."""
    torch.manual_seed(0)
    try:
        model = build_model(config_for(preset, shape))
    except ConfigError as e:
        assert shape not in (FASHION_MNIST, (3, 75, 100)), (
            f"every preset must take Fashion-MNIST's shape: {e}"
        )
        assert says_what_is_wrong(str(e), ModelConfig, shape), str(e)
        return
    assert model.config == config_for(preset, shape)
    x = random_images(shape)
    n = len(x)

    out = model(x)
    assert out.logits.shape == x.shape
    assert out.codings.shape[0] == n
    assert out.losses, "forward must name at least one loss term"
    for value in out.losses.values():
        assert_is_a_scalar_loss(value)
    assert torch.isclose(out.loss, sum(out.losses.values()))
    out.loss.backward()
    assert all(p.grad is not None for p in model.parameters()), "a parameter the loss never uses"

    with torch.no_grad():
        codings = model.encode(x)
        assert codings.shape == out.codings.shape
        images = model.decode(codings)
        assert images.shape == x.shape
        assert images.min() >= 0 and images.max() <= 1
        assert model.reconstruct(x).shape == x.shape
        if model.generative:
            samples = model.sample(3, torch.Generator().manual_seed(0))
            assert samples.shape == (3, *shape)
            assert samples.min() >= 0 and samples.max() <= 1
        else:
            with pytest.raises(ConfigError, match="not generative"):
                model.sample(3)

    classifier = Classifier.from_autoencoder(model, N_CLASSES)
    labels = torch.arange(n) % N_CLASSES
    result = classifier(x, labels)
    assert result.logits.shape == (n, N_CLASSES)
    assert result.codings.shape == (n, math.prod(codings.shape[1:]))
    assert list(result.losses) == ["cross_entropy"]
    assert_is_a_scalar_loss(result.loss)
    assert classifier(x).losses == {}  # without labels: logits only


BUILDABLE = [(preset, shape) for preset in NAMES for shape in SHAPES if builds(preset, shape)]


@pytest.mark.parametrize(
    "preset, shape", BUILDABLE, ids=[f"{preset}-{shape_id(shape)}" for preset, shape in BUILDABLE]
)
def test_save_load_gives_identical_outputs(preset, shape, tmp_path):
    torch.manual_seed(0)
    model = build_model(config_for(preset, shape))
    config = json.loads(json.dumps(model.config.to_dict()))  # through JSON, as a run folder does
    save_tensors(tmp_path / "m.safetensors", model.state_dict())
    clone = build_model(config_from_dict(config))
    clone.load_state_dict(load_tensors(tmp_path / "m.safetensors")[0])
    model.eval(), clone.eval()
    x = random_images(shape)
    with torch.no_grad():
        assert torch.equal(model.reconstruct(x), clone.reconstruct(x))
        assert torch.equal(model.encode(x), clone.encode(x))


def preset_training(preset: str) -> TrainingConfig:
    """The preset's training settings."""
    return PRESETS[preset].training


@pytest.mark.parametrize("preset", NAMES)
def test_same_seed_same_result(preset, tiny_data, tmp_path):
    def run(seed, folder):
        return train(None, tiny_data, tmp_path / folder, model=config_for(preset, FASHION_MNIST),
                     training=preset_training(preset), epochs=2, batch_size=16, seed=seed,
                     progress=False)  # fmt: skip

    a, b, c = run(1, "a"), run(1, "b"), run(2, "c")
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    for (k, va), vb in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(va, vb), k
    assert a.history[-1]["loss"] != c.history[-1]["loss"]


@pytest.mark.parametrize("preset", NAMES)
def test_overfits_a_tiny_batch(preset):
    torch.manual_seed(0)
    model = build_model(config_for(preset, FASHION_MNIST))
    x = synthetic_batch(8)
    with torch.no_grad():
        before = torch.mean((model.reconstruct(x) - x) ** 2).item()
    optimizer = TrainingConfig(epochs=1, optimizer="adam", lr=3e-3).make_optimizer(
        model.parameters()
    )
    for _ in range(300):
        loss = model(x).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        after = torch.mean((model.reconstruct(x) - x) ** 2).item()
    assert after < 0.1 * before, (before, after)
