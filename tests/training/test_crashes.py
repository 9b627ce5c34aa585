"""Crash consistency, tested as storage engines test it: training is killed (SIGKILL, nothing
handled) at random moments, again and again, each time resumed; after every kill the folder
loads as its last complete state or says in one line what to do, and the run that was killed
all along ends with the uninterrupted run's weights, bit for bit.

The kills fall uniformly over the time training takes, with a checkpoint every 3 steps and one
at every epoch's end, so that they land inside writes (weights, checkpoint, history, metrics)
as well as between them; ``benchmarks/crash_harness.py`` runs 50 of them.
"""

import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from autoencode.errors import RunFolderError
from autoencode.io import load_tensors
from autoencode.run import load_run
from conftest import synthetic_images

COMMAND = [sys.executable, "-m", "autoencode", "train"]


def killed_again_and_again(data: Path, out: Path, kills: int, seed: int, epochs: int = 3) -> list:
    """Train into ``out``, SIGKILLed ``kills`` times at random moments and resumed each time;
    returns what each kill left: (seconds into training, the state it loaded as, whether it
    fell inside a write)."""
    options = ["--data", str(data), "--batch-size", "8", "--quiet", "--checkpoint-every", "3"]
    first = [*COMMAND, *options, "--epochs", str(epochs), "--out", str(out)]
    rng, seen = random.Random(seed), []
    command = first
    for _ in range(kills):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while not (out / "config.json").exists() and proc.poll() is None:  # training begins
            time.sleep(0.005)
        began = time.perf_counter()
        time.sleep(rng.uniform(0, 1.2))
        proc.kill()
        proc.communicate()
        inside_a_write = bool(list(out.rglob(".*.tmp")))  # a temporary file left half-written
        seen.append((time.perf_counter() - began, state_of(out), inside_a_write))
        if seen[-1][1] == "restart":  # killed before its first checkpoint: nothing to go on from
            command = [*first, "--overwrite"]
        else:
            command = [*COMMAND, "--resume", str(out), "--quiet", "--checkpoint-every", "3"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return seen


def state_of(folder: Path) -> str:
    """What a killed folder is: the epochs it loads with, or what its one line says to do."""
    try:
        return f"{len(load_run(folder).history)} epochs"
    except RunFolderError as e:
        message = str(e)
        assert "\n" not in message
        if "--resume" in message:
            return "resume"
        assert "train it again with --overwrite" in message, message
        return "restart"


@pytest.mark.slow  # ~40 s: a process start per kill
def test_killed_at_random_moments_it_loads_or_says_how_to_go_on_and_ends_the_same(tmp_path):
    images, labels = synthetic_images(2500)
    np.savez(tmp_path / "d.npz", x_train=images[300:], y_train=labels[300:],
             x_valid=images[:300], y_valid=labels[:300])  # fmt: skip
    whole = subprocess.run([*COMMAND, "--data", str(tmp_path / "d.npz"), "--batch-size", "8",
                            "--epochs", "3", "--quiet", "--out", str(tmp_path / "whole")],
                           capture_output=True, text=True)  # fmt: skip
    assert whole.returncode == 0, whole.stderr[-2000:]
    seen = killed_again_and_again(tmp_path / "d.npz", tmp_path / "killed", kills=8, seed=1)
    assert len(seen) == 8
    a, _ = load_tensors(tmp_path / "whole" / "model.safetensors")
    b, _ = load_tensors(tmp_path / "killed" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a), seen
    assert not list((tmp_path / "killed").rglob(".*.tmp"))  # the dead writers' leftovers went
