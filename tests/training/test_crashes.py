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


def killed_again_and_again(data: Path, out: Path, kills: int, seed: int, whole: Path,
                           epochs: int = 3) -> list:  # fmt: skip
    """Train into ``out``, SIGKILLed ``kills`` times at random moments and resumed after each;
    each time the run gets to its end, its weights must be ``whole``'s, and it starts again
    (``--overwrite``). The moments are uniform over the time a whole run takes once it holds
    the folder's lock. Returns what each kill left: (seconds after the lock, the state the
    folder loaded as, whether the kill fell inside a write)."""
    options = ["--data", str(data), "--batch-size", "8", "--quiet", "--checkpoint-every", "3"]
    first = [*COMMAND, *options, "--epochs", str(epochs), "--out", str(out)]
    resume = [*COMMAND, "--resume", str(out), "--quiet", "--checkpoint-every", "3"]
    span = _locked_time([*first[:-1], str(out.with_name(out.name + "-timing"))])
    rng, seen, command = random.Random(seed), [], first
    while len(seen) < kills:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while not holds_the_lock(out, proc.pid) and proc.poll() is None:  # training begins
            time.sleep(0.002)
        began = time.perf_counter()
        time.sleep(rng.uniform(0, span))
        proc.kill()
        proc.communicate()
        inside_a_write = bool(list(out.rglob(".*.tmp")))  # this process's, half-written
        seen.append((time.perf_counter() - began, state_of(out), inside_a_write))
        command = [*first, "--overwrite"] if seen[-1][1] == "restart" else resume
        if seen[-1][1] == f"{epochs} epochs":  # it got to the end: the very weights, again
            same_weights(whole, out)
            command = [*first, "--overwrite"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    same_weights(whole, out)
    return seen


def _locked_time(command: list[str]) -> float:
    """How long ``command`` runs once it holds its run folder's lock (``--out`` last)."""
    out = Path(command[-1])
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not holds_the_lock(out, proc.pid) and proc.poll() is None:
        time.sleep(0.002)
    began = time.perf_counter()
    assert proc.wait() == 0
    return time.perf_counter() - began


def holds_the_lock(out: Path, pid: int) -> bool:
    """Whether process ``pid`` has taken the run folder's writer's lock (it writes its pid)."""
    try:
        return (out / ".writer").read_text().strip() == str(pid)
    except OSError:
        return False


def same_weights(a: Path, b: Path) -> None:
    x, _ = load_tensors(a / "model.safetensors")
    y, _ = load_tensors(b / "model.safetensors")
    assert all(torch.equal(x[k], y[k]) for k in x)


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
    seen = killed_again_and_again(
        tmp_path / "d.npz", tmp_path / "killed", kills=8, seed=1, whole=tmp_path / "whole"
    )
    assert len(seen) == 8
    assert not list((tmp_path / "killed").rglob(".*.tmp"))  # the dead writers' leftovers went
