"""``train --tensorboard DIR`` / ``ae.TensorBoardLogger``: the event files, read back with
TensorBoard's own reader."""

import numpy as np
import pytest

import autoencode as ae
from autoencode.cli.main import main

pytest.importorskip("tensorboard", reason="the tensorboard package ([dev] or [tensorboard] extra)")


def events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    return accumulator


@pytest.mark.parametrize("preset", ["stacked", "vae"])
def test_the_events_hold_the_history_the_images_and_the_codings(preset, tiny_npz, tmp_path, capsys):
    argv = ["train", "--preset", preset, "--data", tiny_npz, "--epochs", "3", "--batch-size", "16",
            "--out", str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb"), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    run = ae.load_run(tmp_path / "run")
    logged = events(tmp_path / "tb")
    for column in run.history[0]:
        if column != "epoch":
            values = [e.value for e in logged.Scalars(f"epoch/{column}")]
            np.testing.assert_allclose(values, [row[column] for row in run.history], rtol=1e-6)
    assert [e.step for e in logged.Scalars("epoch/loss")] == [1, 2, 3]
    assert len(logged.Scalars("epoch/lr")) == 3
    images = logged.Images("reconstructions")
    assert [i.step for i in images] == [1, 2, 3] and (images[0].width, images[0].height) == (
        16 * 28,
        56,
    )
    config = (tmp_path / "tb" / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "codings:' in config and "sprite" in config
    tensor_path = config.split('tensor_path: "')[1].split('"')[0]
    codings = np.loadtxt(tmp_path / "tb" / tensor_path, delimiter="\t")
    valid = run.load_dataset().valid
    np.testing.assert_allclose(codings, run.encode(valid.images).reshape(len(valid), -1), atol=1e-5)
    hparams = list((tmp_path / "tb").glob("*/hparams")) or list((tmp_path / "tb").glob("hparams"))
    assert hparams, "add_hparams writes its run beside the others"


def test_the_running_loss_is_logged_every_few_steps(tiny_data, tmp_path):
    logger = ae.TensorBoardLogger(tmp_path / "tb", tiny_data.valid, every=2, embed=0)
    run = ae.train("stacked", tiny_data, tmp_path / "run", epochs=2, batch_size=16,
                   callbacks=[logger], progress=False)  # fmt: skip
    logged = events(tmp_path / "tb")
    steps = [e.step for e in logged.Scalars("step/loss")]
    assert steps == [2, 4, 6, 8]  # 64 images in batches of 16: 4 steps an epoch
    assert logged.Scalars("step/loss")[-1].value == pytest.approx(run.history[-1]["loss"], rel=1e-6)
    assert not (tmp_path / "tb" / "projector_config.pbtxt").exists()  # embed=0: no codings
