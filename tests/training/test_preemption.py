"""SIGTERM / SIGUSR1 during training: a checkpoint after the current step (inside the epoch), a
stop in one line with exit 143, and a resume that ends bit for bit where the uninterrupted run
ends; checkpoints inside epochs on a schedule (``--checkpoint-every``)."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import autoencode as ae
from autoencode.cli.main import main
from autoencode.data.types import Dataset, Split
from autoencode.io import load_tensors
from autoencode.training import distributed
from autoencode.training.preemption import Every
from autoencode.training.trainer import read_position
from conftest import synthetic_images

EPOCHS, BATCH = 3, 16


@pytest.fixture(scope="module")
def data() -> Dataset:
    images, labels = synthetic_images(400)  # 300 training images: 19 steps an epoch
    return Dataset("syn", Split(images[100:], labels[100:]), Split(images[:100], labels[:100]))


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """The uninterrupted runs, one per preset."""
    folder = tmp_path_factory.mktemp("reference")
    return {preset: ae.train(preset, data, folder / preset, epochs=EPOCHS, batch_size=BATCH,
                             progress=False) for preset in ("stacked", "vae")}  # fmt: skip


class SignalAt(ae.Callback):
    """Sends this process ``number`` after ``step`` of epoch ``epoch`` (counted from 1)."""

    def __init__(self, epoch: int, step: int, number=signal.SIGTERM):
        self.at, self.number = (epoch, step), number

    def on_batch_end(self, trainer, step, samples, sums):
        if (trainer.epoch + 1, step) == self.at:
            os.kill(os.getpid(), self.number)


class CrashAt(SignalAt):
    def on_batch_end(self, trainer, step, samples, sums):
        if (trainer.epoch + 1, step) == self.at:
            raise RuntimeError("the machine went away")


def same_run(a, b) -> None:
    """The same weights bit for bit, and the same history but for the seconds."""
    for (name, x), y in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(x, y), name
    drop = [{k: v for k, v in row.items() if k != "seconds"} for row in a.history]
    assert drop == [{k: v for k, v in row.items() if k != "seconds"} for row in b.history]


@pytest.mark.parametrize(
    ("preset", "epoch", "step", "number"),
    [
        ("stacked", 1, 1, signal.SIGTERM),
        ("stacked", 2, 11, signal.SIGTERM),
        ("stacked", 2, 19, signal.SIGTERM),  # the epoch's last step: stops at its end
        ("vae", 1, 7, signal.SIGTERM),  # the sampling noise goes on where it was
        ("vae", 3, 18, signal.SIGUSR1),
    ],
)
def test_a_signal_stops_inside_the_epoch_and_the_resume_is_exact(preset, epoch, step, number,
                                                                 data, reference, tmp_path):  # fmt: skip
    folder = tmp_path / "run"
    with pytest.raises(ae.Preempted) as stopped:
        ae.train(preset, data, folder, epochs=EPOCHS, batch_size=BATCH, progress=False,
                 callbacks=[SignalAt(epoch, step, number)])  # fmt: skip
    assert stopped.value.signal_name == signal.Signals(number).name
    done = epoch if step == 19 else epoch - 1
    if done:  # the folder loads as its last finished epoch
        assert len(ae.load_run(folder).history) == done
    else:  # or says how to go on
        with pytest.raises(ae.AutoencodeError, match=r"no epoch finished yet.*--resume"):
            ae.load_run(folder)
    _, meta = load_tensors(folder / "checkpoint" / "last.safetensors")
    assert (meta.get("position") or {}).get("step") == (None if step == 19 else step)
    same_run(ae.resume(folder, data, progress=False), reference[preset])
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are given back


def test_checkpoints_inside_epochs_survive_a_crash(data, reference, tmp_path):
    folder = tmp_path / "run"
    with pytest.raises(RuntimeError, match="went away"):
        ae.train("stacked", data, folder, epochs=EPOCHS, batch_size=BATCH, progress=False,
                 checkpoint_every=5, callbacks=[CrashAt(2, 13)])  # fmt: skip
    _, meta = load_tensors(folder / "checkpoint" / "last.safetensors")
    # every 5 steps of the run: its steps 25 and 30 are steps 6 and 11 of epoch 2 (19 an epoch)
    assert meta["position"]["epoch"] == 2 and meta["position"]["step"] == 11
    same_run(ae.resume(folder, data, progress=False), reference["stacked"])


def test_the_command_stops_in_one_line_with_143_and_resumes_exactly(tmp_path):
    images, labels = synthetic_images(6000)
    np.savez(tmp_path / "d.npz", x_train=images[500:], y_train=labels[500:],
             x_valid=images[:500], y_valid=labels[:500])  # fmt: skip
    common = ["--data", str(tmp_path / "d.npz"), "--epochs", "3", "--batch-size", "8", "--quiet"]
    command = [sys.executable, "-m", "autoencode", "train", *common]
    for number in (signal.SIGTERM, signal.SIGUSR1):
        out = tmp_path / signal.Signals(number).name
        proc = subprocess.Popen([*command, "--out", str(out)], stderr=subprocess.PIPE, text=True)
        while not (out / "config.json").exists() and proc.poll() is None:  # training has begun
            time.sleep(0.01)
        time.sleep(random.Random(number).uniform(0.05, 0.6))
        proc.send_signal(number)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 143, err
        assert err.count("\n") == 1 and f"autoencode train --resume {out}" in err, err
        assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert main(["train", *common, "--out", str(tmp_path / "whole")]) == 0
    whole, _ = load_tensors(tmp_path / "whole" / "model.safetensors")
    for name in ("SIGTERM", "SIGUSR1"):
        resumed, _ = load_tensors(tmp_path / name / "model.safetensors")
        assert all(torch.equal(whole[k], resumed[k]) for k in whole), name


@pytest.mark.slow  # ~15 s: three torchrun launches of two processes each
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds torchrun's workers in /proc")
def test_under_torchrun_every_process_stops_at_one_step_and_resumes_exactly(tmp_path):
    images, labels = synthetic_images(6000)
    np.savez(tmp_path / "d.npz", x_train=images[500:], y_train=labels[500:],
             x_valid=images[:500], y_valid=labels[:500])  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                "2", "-m", "autoencode", "train", "--data", str(tmp_path / "d.npz"),
                "--epochs", "2", "--batch-size", "8", "--quiet"]  # fmt: skip
    whole = subprocess.run([*torchrun, "--out", str(tmp_path / "whole")], env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert whole.returncode == 0, whole.stderr[-2000:]
    out = tmp_path / "stopped"
    proc = subprocess.Popen([*torchrun, "--out", str(out), "--checkpoint-every", "20"], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)  # fmt: skip
    checkpoint = out / "checkpoint" / "last.safetensors"
    while not checkpoint.exists() and proc.poll() is None:  # step 20 of 344 in the first epoch
        time.sleep(0.01)
    workers = children(proc.pid)
    assert len(workers) == 2
    os.kill(workers[-1], signal.SIGTERM)  # one process told: both stop, at the same step
    _, err = proc.communicate(timeout=120)
    assert "stopped by SIGTERM at epoch" in err and f"--resume {out}" in err, (proc.returncode,
                                                                              err[-2000:])  # fmt: skip
    _, meta = load_tensors(out / "checkpoint" / "last.safetensors")
    assert meta["position"]["ranks"] == 2
    resumed = subprocess.run([*torchrun[:-7], "--resume", str(out), "--quiet"], env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, _ = load_tensors(tmp_path / "whole" / "model.safetensors")
    b, _ = load_tensors(out / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, in the order they started."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append((int(fields[19]), int(entry.name)))  # start time, pid
    return [p for _, p in sorted(found)]


@pytest.mark.parametrize("text", ["0", "-5", "abc", "1.5", "10x", "0m"])
def test_a_malformed_checkpoint_schedule_is_one_line(text, tiny_npz, tmp_path, capsys):
    argv = ["train", "--data", tiny_npz, "--epochs", "1", "--out", str(tmp_path / "r"),
            "--checkpoint-every", text, "--quiet"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--checkpoint-every" in err
    assert not (tmp_path / "r").exists()


def test_the_schedule_reads_steps_and_times():
    assert Every.parse("500") == Every(steps=500) and Every.parse(7) == Every(steps=7)
    assert Every.parse("30s") == Every(seconds=30) and Every.parse("1.5m") == Every(seconds=90)
    assert Every.parse("2h") == Every(seconds=7200) and Every.parse(None) is None


def test_a_position_that_does_not_fit_is_refused():
    meta = {"epoch": 2, "step": 3, "ranks": 2, "terms": ["loss"]}
    with pytest.raises(ValueError, match="2 processes"):
        read_position({}, meta, 1, distributed.SINGLE)
    with pytest.raises(ValueError, match="does not follow"):
        read_position({}, {**meta, "ranks": 1}, 4, distributed.SINGLE)
    with pytest.raises(ValueError, match="lacks"):
        read_position({}, {**meta, "ranks": 1}, 1, distributed.SINGLE)
