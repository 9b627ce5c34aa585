import numpy as np
import pytest
import torch

from autoencode.commands.train import resume, train
from autoencode.models import ModelConfig
from autoencode.training.trainer import TrainingDiverged


def test_history_and_run_folder(tiny_data, tmp_path):
    run = train("stacked", tiny_data, tmp_path / "r", epochs=3, batch_size=16, progress=False)
    assert [r["epoch"] for r in run.history] == [1, 2, 3]
    assert {"loss", "val_loss", "seconds"} <= set(run.history[0])
    assert run.history[-1]["loss"] < run.history[0]["loss"]
    for name in (
        "config.json",
        "model.safetensors",
        "history.csv",
        "metrics.json",
        "checkpoint/last.safetensors",
    ):
        assert (tmp_path / "r" / name).is_file(), name
    assert run.config.training.seed == 42 and run.config.runtime["device"] == "cpu"
    assert not list((tmp_path / "r").rglob(".*.tmp"))


def test_resume_continues_exactly(tiny_data, tmp_path):
    straight = train("stacked", tiny_data, tmp_path / "a", epochs=3, batch_size=16, progress=False)
    train("stacked", tiny_data, tmp_path / "b", epochs=1, batch_size=16, progress=False)
    resumed = resume(tmp_path / "b", tiny_data, epochs=3, progress=False)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]
    for a, b in zip(
        straight.model.state_dict().values(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


def test_diverging_loss_is_stopped_and_the_last_good_epoch_kept(tiny_data, tmp_path):
    with pytest.raises(TrainingDiverged, match="smaller lr"):
        train("stacked", tiny_data, tmp_path / "r", epochs=3, lr=1e20, progress=False)
    assert not (tmp_path / "r" / "model.safetensors").exists()  # no finite epoch: nothing saved


def test_model_follows_the_data_shape(tmp_path):
    from autoencode.data.types import Dataset, Split

    rgb = np.random.default_rng(0).integers(0, 256, (40, 12, 10, 3)).astype(np.uint8)
    data = Dataset("rgb", Split(rgb[8:]), Split(rgb[:8]))
    run = train(None, data, tmp_path / "r", model=ModelConfig(encoder={"kind": "dense", "units": [16, 4]}), epochs=1,
                progress=False)  # fmt: skip
    assert run.config.model.input_shape == (3, 12, 10)
    assert run.reconstruct(rgb[:5]).shape == (5, 12, 10, 3)
    assert run.encode(rgb[:5]).shape == (5, 4)


def test_resume_with_a_damaged_checkpoint_is_one_error(tiny_data, tmp_path):
    from autoencode.errors import RunFolderError

    train("stacked", tiny_data, tmp_path / "r", epochs=1, progress=False)
    checkpoint = tmp_path / "r" / "checkpoint" / "last.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes()[:500])
    with pytest.raises(RunFolderError, match=r"last\.safetensors: not a valid safetensors file"):
        resume(tmp_path / "r", tiny_data, epochs=2, progress=False)


def test_shuffling_is_independent_of_the_weights_seed():
    from autoencode.training.trainer import stream_seed

    assert stream_seed(42, "shuffle") != 42
    assert stream_seed(42, "shuffle") == stream_seed(42, "shuffle") != stream_seed(43, "shuffle")


def test_onecycle_is_torchs_one_cycle_schedule():
    from autoencode.training.config import TrainingConfig

    for total in (1, 2, 10, 37, 1000):
        p = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([p], lr=0.1)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=total)
        ours = TrainingConfig(lr=0.1, schedule="onecycle")
        for step in range(total):
            assert ours.lr_at(step, total) == pytest.approx(
                optimizer.param_groups[0]["lr"], rel=1e-12
            )
            optimizer.step()
            scheduler.step()
        assert TrainingConfig(lr=0.1).lr_at(total - 1, total) == 0.1


def test_a_run_on_a_schedule_resumed_after_a_crash_continues_exactly(tiny_data, tmp_path,
                                                                      monkeypatch):  # fmt: skip
    from autoencode.training.trainer import Trainer

    options = {"epochs": 3, "batch_size": 16, "schedule": "onecycle", "optimizer": "adam",
               "lr": 0.01, "progress": False}  # fmt: skip
    straight = train("stacked", tiny_data, tmp_path / "a", **options)
    real, epochs = Trainer._train_epoch, []

    def crash_in_the_second_epoch(self, tensors):
        epochs.append(1)
        if len(epochs) == 2:
            raise KeyboardInterrupt
        return real(self, tensors)

    monkeypatch.setattr(Trainer, "_train_epoch", crash_in_the_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train("stacked", tiny_data, tmp_path / "b", **options)
    monkeypatch.setattr(Trainer, "_train_epoch", real)
    resumed = resume(tmp_path / "b", tiny_data, progress=False)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]
    assert straight.history[0]["loss"] != train("stacked", tiny_data, tmp_path / "c",
                                                **{**options, "schedule": "constant"}).history[0]["loss"]  # fmt: skip


@pytest.mark.parametrize("preset", ["stacked", "conv"])
def test_train_returns_the_model_as_load_run_gives_it(preset, tiny_data, tmp_path):
    from autoencode.run import load_run

    run = train(preset, tiny_data, tmp_path / "r", epochs=1, progress=False)
    loaded = load_run(tmp_path / "r")
    assert not run.model.training and all(p.grad is None for p in run.model.parameters())
    layout = run.model.memory_format  # channels-last for conv: how it trains and encodes fastest
    assert all(p.requires_grad for p in run.model.parameters())
    for model in (run.model, loaded.model):
        assert all(p.is_contiguous(memory_format=layout) for p in model.parameters() if p.ndim == 4)
    images = tiny_data.valid.images[:4]
    assert np.array_equal(run.reconstruct(images), loaded.reconstruct(images))
    assert run.history == loaded.history and run.config.to_dict() == loaded.config.to_dict()


def test_bf16_precision_trains_under_autocast_with_a_float32_loss(tiny_data, tmp_path):
    """precision bf16: the forward pass's matrix products in bfloat16 (so the losses differ from
    float32's), the weights and the recorded losses float32, the setting saved and refused when
    unknown."""
    from autoencode.errors import ConfigError

    options = {"epochs": 1, "batch_size": 16, "progress": False}
    full = train("stacked", tiny_data, tmp_path / "f", **options)
    half = train("stacked", tiny_data, tmp_path / "h", precision="bf16", **options)
    assert half.config.training.precision == "bf16"
    assert all(p.dtype == torch.float32 for p in half.model.parameters())
    assert (
        np.isfinite(half.history[0]["loss"]) and half.history[0]["loss"] != full.history[0]["loss"]
    )
    assert abs(half.history[0]["val_loss"] - full.history[0]["val_loss"]) < 0.05
    with pytest.raises(ConfigError, match="precision"):
        train("stacked", tiny_data, tmp_path / "x", precision="fp8", **options)


def test_training_and_encoding_flush_denormals_and_then_leave_them_be(tiny_data, tmp_path):
    from autoencode.training.callbacks import Callback
    from autoencode.training.device import denormals_flushed, flushing_denormals

    seen = []

    class Look(Callback):
        def on_batch_end(self, trainer, step, samples, sums):
            seen.append(flushing_denormals())

    assert not flushing_denormals()  # torch's default: denormals computed (slowly)
    run = train("stacked", tiny_data, tmp_path / "r", epochs=1, batch_size=16, progress=False,
                callbacks=[Look()])  # fmt: skip
    assert seen and all(seen) and not flushing_denormals()
    with denormals_flushed():
        assert (torch.tensor([1e-39]) * 1.0).item() == 0.0
        with denormals_flushed():
            pass
        assert flushing_denormals()  # the inner one put back what it found
    assert not flushing_denormals() and (torch.tensor([1e-39]) * 1.0).item() > 0
    run.encode(tiny_data.valid.images)
    assert not flushing_denormals()


def test_the_inference_batch_follows_the_model_s_largest_activation():
    from autoencode.models.autoencoder import build_model
    from autoencode.presets import get_preset, image_model
    from autoencode.training.device import inference_batch

    cpu = torch.device("cpu")

    def batch(config):
        return inference_batch(build_model(config), tuple(config.input_shape), cpu)

    # stacked: 784 floats its largest (3 KB an image): the most; conv: 28×28×16 maps (50 KB) and
    # a 128-pixel conv-image (32 channels at 64×64: 512 KB): 16 MiB's worth, a power of two
    assert batch(get_preset("stacked").model) == 2048
    assert batch(get_preset("conv").model) == 256
    assert batch(image_model((3, 128, 128))) == 32
    model = build_model(get_preset("conv").model).train()
    inference_batch(model, (1, 28, 28), cpu)
    assert model.training and not any(m._forward_hooks for m in model.modules())


def test_encoding_in_the_run_s_batches_is_encoding_in_any(tiny_data, tmp_path):
    run = train("conv", tiny_data, tmp_path / "r", epochs=1, progress=False)
    images = tiny_data.valid.images
    assert run.inference_batch == 256
    np.testing.assert_allclose(run.encode(images), run.encode(images, batch_size=7), atol=1e-5)
