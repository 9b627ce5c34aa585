"""torchrun + DistributedDataParallel on 2 CPU processes (gloo): the same training as one process.

Two processes with batch 16 each see, step by step, the same 32 images that one process with
batch 32 sees, and DDP averages their gradients: the weights must agree to float rounding.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from autoencode.cli.main import main
from autoencode.io import load_tensors
from autoencode.run import load_run
from conftest import synthetic_images


@pytest.mark.slow  # ~5 s: torchrun starts two Python processes that import torch
def test_two_processes_train_like_one(tmp_path, capsys):
    images, labels = synthetic_images(160)
    np.savez(
        tmp_path / "d.npz",
        x_train=images[32:],
        y_train=labels[32:],
        x_valid=images[:32],
        y_valid=labels[:32],
    )
    # prepared data: each process gathers its shard's rows from the memory-mapped file
    assert main(["prepare", str(tmp_path / "d.npz"), "--out", str(tmp_path / "data")]) == 0
    common = ["--data", str(tmp_path / "data"), "--epochs", "2", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "autoencode", "train", *common, "--batch-size", "16", "--out", str(tmp_path / "ddp")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("wrote ") == 1  # rank 0 alone reports and writes
    assert main(["train", *common, "--batch-size", "32", "--out", str(tmp_path / "one")]) == 0

    ddp, one = load_run(tmp_path / "ddp"), load_run(tmp_path / "one")
    assert ddp.config.runtime["processes"] == 2 and one.config.runtime["processes"] == 1
    assert np.allclose(
        [r["loss"] for r in ddp.history], [r["loss"] for r in one.history], rtol=1e-5
    )
    a, _ = load_tensors(tmp_path / "ddp" / "model.safetensors")
    b, _ = load_tensors(tmp_path / "one" / "model.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6)
