"""The contract every model meets, over every preset (parametrized, never copied per model)."""

import json

import pytest
import torch

from autoencode.api import train
from autoencode.models.base import build_model, config_from_dict
from autoencode.presets import PRESETS
from autoencode.data.batches import image_tensor, to_float
from autoencode.io import load_tensors, save_tensors
from autoencode.training.config import TrainingConfig
from conftest import synthetic_images

PRESET_NAMES = sorted(PRESETS)


def batch(n=8, seed=0):
    images, _ = synthetic_images(n, seed)
    return to_float(image_tensor(images, torch.device("cpu")))


@pytest.fixture(params=PRESET_NAMES)
def model(request):
    torch.manual_seed(0)
    return build_model(PRESETS[request.param].model)


def test_shapes_and_losses(model):
    x = batch()
    out = model(x)
    assert out.logits.shape == x.shape
    assert out.codings.shape[0] == len(x)
    assert model.encode(x).shape == out.codings.shape
    images = model.decode(model.encode(x))
    assert images.shape == x.shape and images.min() >= 0 and images.max() <= 1
    assert out.losses and all(v.ndim == 0 and torch.isfinite(v) for v in out.losses.values())
    assert torch.isclose(out.loss, sum(out.losses.values()))


def test_save_load_gives_identical_outputs(model, tmp_path):
    config = json.loads(json.dumps(model.config.to_dict()))  # through JSON, as a run folder does
    save_tensors(tmp_path / "m.safetensors", model.state_dict())
    clone = build_model(config_from_dict(config))
    clone.load_state_dict(load_tensors(tmp_path / "m.safetensors")[0])
    model.eval(), clone.eval()
    x = batch()
    with torch.no_grad():
        assert torch.equal(model.reconstruct(x), clone.reconstruct(x))
        assert torch.equal(model.encode(x), clone.encode(x))


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_same_seed_same_result(name, tiny_data, tmp_path):
    def run(seed, folder):
        return train(
            name, tiny_data, tmp_path / folder, epochs=2, batch_size=16, seed=seed, progress=False
        )

    a, b, c = run(1, "a"), run(1, "b"), run(2, "c")
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    for (k, va), vb in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(va, vb), k
    assert a.history[-1]["loss"] != c.history[-1]["loss"]


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_overfits_a_tiny_batch(name):
    torch.manual_seed(0)
    model = build_model(PRESETS[name].model)
    x = batch(8)
    with torch.no_grad():
        before = torch.mean((model.reconstruct(x) - x) ** 2).item()
    optimizer = TrainingConfig(epochs=1, optimizer="adam", lr=3e-3).make_optimizer(model.parameters())
    for _ in range(300):
        loss = model(x).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        after = torch.mean((model.reconstruct(x) - x) ** 2).item()
    assert after < 0.1 * before, (before, after)
