"""One writer per run folder: training holds an exclusive lock on it; a second writer is refused
at once in one line naming the holder's pid; readers are never blocked; a dead holder's lock is
gone with it."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np

import autoencode as ae
from autoencode.cli.main import main
from autoencode.runfolder import RunFolder
from conftest import synthetic_images


def long_training(tmp_path):
    """A training command that runs for a while, started when its first epoch is written."""
    images, labels = synthetic_images(6000)
    np.savez(tmp_path / "d.npz", x_train=images[500:], y_train=labels[500:],
             x_valid=images[:500], y_valid=labels[:500])  # fmt: skip
    out = tmp_path / "run"
    argv = ["--data", str(tmp_path / "d.npz"), "--batch-size", "4", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "autoencode", "train", *argv, "--epochs", "50",
                             "--out", str(out)], stderr=subprocess.PIPE, text=True)  # fmt: skip
    while not (out / "model.safetensors").exists() and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, proc.stderr.read()
    return proc, out, argv


def test_a_second_writer_is_refused_and_a_reader_is_not(tmp_path, capsys):
    proc, out, argv = long_training(tmp_path)
    try:
        for second in (["train", *argv, "--epochs", "1", "--out", str(out), "--overwrite"],
                       ["train", "--resume", str(out), "--quiet"]):  # fmt: skip
            start = time.perf_counter()
            assert main(second) == 2
            assert time.perf_counter() - start < 1.0
            err = capsys.readouterr().err.strip()
            assert err.count("\n") == 0 and f"process {proc.pid} is writing this run" in err, err
        assert main(["reconstruct", str(out), "-n", "3"]) == 0  # a reader, while it trains
        assert (out / "figures" / "reconstructions.png").is_file()
        assert proc.poll() is None  # the first writer was not disturbed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert main(["train", "--resume", str(out), "--epochs", "2", "--quiet"]) == 0  # its turn now


def test_the_lock_of_a_killed_writer_is_gone_with_it(tmp_path):
    proc, out, _ = long_training(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert main(["train", "--resume", str(out), "--epochs", "2", "--quiet"]) == 0
    assert len(ae.load_run(out).history) == 2


def test_commands_merging_into_metrics_at_once_lose_nothing(tiny_run):
    folder = RunFolder(tiny_run("stacked"))

    def merge(who: str) -> None:
        for i in range(40):
            folder.record("evaluation", {f"{who}{i}": i})

    threads = [threading.Thread(target=merge, args=(w,)) for w in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = folder.read_metrics()["evaluation"]
    assert {f"{w}{i}" for w in "abc" for i in range(40)} <= set(merged)
