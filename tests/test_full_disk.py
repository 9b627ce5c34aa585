"""A full disk at every write the library makes: each command of a workflow is run once to
enumerate its writes, then again with each write in turn failing with ``ENOSPC`` (after the
temporary file has been written in part). Every time: one line naming the file and the reason,
exit 2, no temporary file left behind, and the run folder still loads as its last complete state
or says in one line how to go on.

The write sites: ``io.atomic_write`` (every file of a run folder, figures, pages, arrays,
exported graphs, the label sweep's, tune's and zoo's files), and ``prepare``'s in-place writes
(``io.create_npy`` and the pixel chunks). Optuna's own study file is SQLite's to write.
"""

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autoencode.commands.export as export_module
import autoencode.data.preparing as preparing
import autoencode.io as io
from autoencode.cli.main import main
from autoencode.errors import RunFolderError
from autoencode.run import load_run
from conftest import synthetic_images

FULL = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class Disk:
    """Counts the library's writes and makes the ``fail``-th one (from 1) raise ENOSPC."""

    def __init__(self, monkeypatch, fail: int = 0):
        self.count, self.fail, self.paths = 0, fail, []
        atomic, create, chunk = io.atomic_write, io.create_npy, preparing._write_chunk

        def atomic_write(path, write):
            def full(tmp):
                write(tmp)  # the temporary file is there, then the disk is full
                self._tick(path)

            return atomic(path, full)

        def create_npy(path, shape):
            self._tick(path)
            create(path, shape)

        def write_chunk(f, position, array):
            self._tick(Path(f.name))
            chunk(f, position, array)

        for module in (io, preparing, export_module):
            monkeypatch.setattr(module, "atomic_write", atomic_write)
        monkeypatch.setattr(preparing, "create_npy", create_npy)
        monkeypatch.setattr(preparing, "_write_chunk", write_chunk)

    def _tick(self, path) -> None:
        self.count += 1
        self.paths.append(Path(path).name)
        if self.count == self.fail:
            raise FULL


def workflow() -> list[tuple[str, list[str]]]:
    """The commands, in order, each after those it needs (paths relative to where they run)."""
    return [
        ("prepare", ["prepare", "d.npz", "--out", "prepared"]),
        ("train", ["train", "--preset", "vae", "--data", "d.npz", "--epochs", "2", "--batch-size",
                   "16", "--out", "run", "--quiet"]),
        ("resume", ["train", "--resume", "run", "--epochs", "3", "--quiet"]),
        ("reconstruct", ["reconstruct", "run", "-n", "3"]),
        ("generate", ["generate", "run", "-n", "4", "--npy", "s.npy"]),
        ("embed", ["embed", "run", "--split", "valid", "--out", "z.csv"]),
        ("map", ["map", "run", "--method", "pca"]),
        ("evaluate", ["evaluate", "run", "--samples", "0", "--no-baselines"]),
        ("score", ["score", "run", "--data", "valid"]),
        ("search", ["search", "run", "0", "-k", "3"]),
        ("explore", ["explore", "run"]),
        ("report", ["report", "run"]),
        ("export", ["export", "run", "--part", "encoder"]),
        ("pretrain", ["pretrain", "run", "--labels", "8", "--seeds", "1", "--max-epochs", "1",
                      "--modes", "frozen,pca"]),
        ("tune", ["tune", "stacked", "--data", "d.npz", "--trials", "2", "--epochs", "1",
                  "--param", "lr=log:0.01:0.1", "--out", "tune"]),
        ("compare", ["compare", "run", "tune/trial-0000", "--allow-different-data"]),
        ("zoo", ["zoo", "--data", "d.npz", "--presets", "stacked", "--epochs", "1", "--samples",
                 "0", "--out", "zoo", "--quiet"]),
    ]  # fmt: skip


def temporaries(folder: Path) -> list[Path]:
    return sorted(set(folder.rglob("*.tmp")))


@pytest.mark.slow  # ~2 minutes: each command again for each of its writes
def test_every_write_on_a_full_disk_is_one_line_and_leaves_the_last_state(tmp_path, monkeypatch,
                                                                          capsys):  # fmt: skip
    images, labels = synthetic_images(120)
    first = tmp_path / "clean"
    first.mkdir()
    np.savez(first / "d.npz", x_train=images[40:], y_train=labels[40:], x_valid=images[:40],
             y_valid=labels[:40], x_test=images[:20], y_test=labels[:20])  # fmt: skip
    monkeypatch.chdir(first)
    sites = []  # (command, argv, the folder as the command found it, the files it wrote)
    for i, (name, argv) in enumerate(workflow()):
        before = shutil.copytree(first, tmp_path / f"before-{i}")
        disk = Disk(monkeypatch)
        assert main(argv) == 0, (name, capsys.readouterr().err)
        sites.append((name, argv, before, list(disk.paths)))
        capsys.readouterr()
    assert all(paths for *_, paths in sites)  # every command writes: its writes enumerated
    for name, argv, before, paths in sites:
        for n, written in enumerate(paths, 1):
            work = tmp_path / "work"
            shutil.rmtree(work, ignore_errors=True)
            monkeypatch.chdir(shutil.copytree(before, work))
            Disk(monkeypatch, fail=n)
            assert main(argv) == 2, (name, n, written)
            err = capsys.readouterr().err.strip()
            assert err.count("\n") == 0 and "No space left on device" in err, (name, n, err)
            assert written in err, (name, n, written, err)
            assert not temporaries(work), (name, n, temporaries(work))
            if (work / "run" / "config.json").exists():
                loads_or_says_how_to_go_on(work / "run")


def loads_or_says_how_to_go_on(run: Path) -> None:
    try:
        load_run(run)
    except RunFolderError as e:
        message = str(e)
        assert "\n" not in message and ("--resume" in message or "--overwrite" in message), message


def test_a_real_full_disk(tmp_path):
    """A 1 MB tmpfs where the test may mount one (root, Linux): training into it fills it."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True)  # fmt: skip
    if made.returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        images, labels = synthetic_images(200)
        np.savez(tmp_path / "d.npz", x_train=images[50:], y_train=labels[50:],
                 x_valid=images[:50], y_valid=labels[:50])  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "autoencode", "train", "--data",
                               str(tmp_path / "d.npz"), "--epochs", "3", "--quiet", "--out",
                               str(mount / "run")], capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 2, done.stderr
        err = done.stderr.strip()
        assert err.count("\n") == 0 and "No space left on device" in err, err
        assert not temporaries(mount)
        loads_or_says_how_to_go_on(mount / "run")
    finally:
        subprocess.run(["umount", str(mount)], check=False)
