"""Prepared data: a folder or file decoded once to disk, read memory-mapped, resumable."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from autoencode.cli.main import main
from autoencode.data import batches, datasets, folders
from autoencode.data import preparing as prepared  # the writing side, whose names these tests patch
from autoencode.data.datasets import load_array_file, load_dataset
from autoencode.data.folders import load_image_folder
from autoencode.data.types import Split
from autoencode.errors import DataError
from autoencode.models import ModelConfig, build_model
from autoencode.training.config import TrainingConfig
from autoencode.training.trainer import Trainer
from conftest import synthetic_images


def write_folder(folder, n=120, size=12, classes=3):
    images, labels = synthetic_images(n, size=size)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (folder / f"c{label % classes}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"c{label % classes}" / f"{i:04d}.png")
    return folder


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "imgs")


def same_splits(a, b):
    for name in ("train", "valid"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.array_equal(x.images, y.images), name
        assert (x.labels is None and y.labels is None) or np.array_equal(x.labels, y.labels), name
    assert a.class_names == b.class_names


def files_of(path):
    return {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}


def test_prepared_folder_is_the_folder_read_into_memory(folder, tmp_path):
    manifest = prepared.prepare(folder, tmp_path / "data", workers=2, progress=False)
    data = load_dataset(tmp_path / "data")
    same_splits(data, load_image_folder(folder))
    assert isinstance(data.train.images, np.memmap) and data.kind == "prepared"
    assert manifest["count"] == 120 and manifest["splits"] == {"valid": [0, 12], "train": [12, 120]}
    files = (tmp_path / "data" / "files.txt").read_text().splitlines()
    assert len(files) == 120 and files[0].startswith("c") and files[0].endswith(".png")
    for name, entry in manifest["files"].items():
        assert (tmp_path / "data" / name).stat().st_size == entry["bytes"]
    assert not (tmp_path / "data" / ".partial").exists()


def test_all_of_prepared_data_is_its_file_in_order_without_a_copy(folder, tmp_path):
    prepared.prepare(folder, tmp_path / "data", workers=1, progress=False)
    data = load_dataset(tmp_path / "data")
    everything = data.split("all")
    on_disk = np.load(tmp_path / "data" / "images.npy", mmap_mode="r")
    assert isinstance(everything.images, np.memmap) and len(everything) == 120
    assert np.array_equal(everything.images, on_disk)  # row i: files.txt line i
    assert np.array_equal(everything.labels, np.load(tmp_path / "data" / "labels.npy"))
    assert np.array_equal(everything.images[12:], data.train.images)  # valid rows come first
    smaller = data.subset(train=50)  # a subset is no longer the whole file
    assert len(smaller.split("all")) == 12 + 50 and smaller.rows is None
    assert data.subset().rows is data.rows


def test_an_interrupted_prepare_goes_on_and_ends_as_an_uninterrupted_one(folder, tmp_path,
                                                                         monkeypatch):  # fmt: skip
    prepared.prepare(folder, tmp_path / "straight", workers=1, progress=False)
    monkeypatch.setattr(folders, "CHUNK", 16)
    monkeypatch.setattr(prepared, "SAVE_EVERY", 0.0)
    prepared.prepare(folder, tmp_path / "chunked", workers=1, progress=False)
    decoded, write = [], prepared._write_chunk

    def crash_after_three(f, position, array):
        if len(decoded) == 3:
            raise KeyboardInterrupt
        decoded.append(len(array))
        write(f, position, array)

    monkeypatch.setattr(prepared, "_write_chunk", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        prepared.prepare(folder, tmp_path / "resumed", workers=1, progress=False)
    assert not prepared.is_prepared(tmp_path / "resumed")
    with pytest.raises(DataError, match="resumed: an unfinished prepare; run it again"):
        load_dataset(tmp_path / "resumed")

    monkeypatch.setattr(prepared, "_write_chunk", write)
    rows, decode = [], folders.decode

    def counting(paths, *args, **kwargs):
        rows.append(len(paths))
        return decode(paths, *args, **kwargs)

    monkeypatch.setattr(folders, "decode", counting)
    prepared.prepare(folder, tmp_path / "resumed", workers=1, progress=False)
    assert sum(rows) == 120 - 48  # the three chunks done are not decoded again
    assert files_of(tmp_path / "resumed") == files_of(tmp_path / "chunked")
    assert files_of(tmp_path / "resumed") == files_of(tmp_path / "straight")


def test_a_finished_prepare_is_not_redone_and_other_data_is_not_overwritten(folder, tmp_path):
    first = prepared.prepare(folder, tmp_path / "d", workers=1, progress=False)
    assert prepared.prepare(folder, tmp_path / "d", workers=1, progress=False) == first
    with pytest.raises(DataError, match=r"d: holds prepared data of .* pass --overwrite"):
        prepared.prepare(folder, tmp_path / "d", workers=1, progress=False, resize=(6, 6))
    (tmp_path / "d" / "notes.txt").write_text("mine")  # beside prepared data: kept
    again = prepared.prepare(folder, tmp_path / "d", resize=(6, 6), overwrite=True, progress=False)
    assert again["image_shape"] == [6, 6] and (tmp_path / "d" / "notes.txt").read_text() == "mine"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match=r"mine: holds notes\.txt, not prepared data"):
        prepared.prepare(folder, tmp_path / "mine", overwrite=True, progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(DataError, match="inside the folder it would prepare"):
        prepared.prepare(folder, folder / "c0" / "data", progress=False)
    with pytest.raises(DataError, match=r"d: is inside .*, where the prepared data would go"):
        prepared.prepare(tmp_path / "d", tmp_path, overwrite=True, progress=False)
    assert folder.is_dir() and prepared.is_prepared(tmp_path / "d")


def test_a_crash_while_finishing_is_finished_by_the_next_run(folder, tmp_path, monkeypatch):
    straight = prepared.prepare(folder, tmp_path / "a", workers=1, progress=False)
    describe = prepared._describe

    def crash(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(prepared, "_describe", crash)  # after the files moved, before the manifest
    with pytest.raises(KeyboardInterrupt):
        prepared.prepare(folder, tmp_path / "b", workers=1, progress=False)
    monkeypatch.setattr(prepared, "_describe", describe)
    assert prepared.prepare(folder, tmp_path / "b", workers=1, progress=False) == {
        **straight, "identity": straight["identity"]}  # fmt: skip
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")


def test_bad_images_stop_with_one_line_or_are_skipped_and_listed(folder, tmp_path, capsys):
    (folder / "c1" / "junk.png").write_bytes(b"not an image")
    good = (folder / "c2").iterdir().__next__().read_bytes()
    (folder / "c2" / "cut.png").write_bytes(good[: len(good) // 2])  # a header, half its pixels
    assert main(["prepare", str(folder), "--out", str(tmp_path / "d"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "junk.png: not a readable image" in err
    assert "--skip-bad" in err and not prepared.is_prepared(tmp_path / "d")

    (folder / "c1" / "junk.png").unlink()  # the cut one passes the header scan, fails decoding
    assert main(["prepare", str(folder), "--out", str(tmp_path / "e"), "--quiet"]) == 2
    assert "cut.png: not a readable image" in capsys.readouterr().err
    (folder / "c1" / "junk.png").write_bytes(b"not an image")
    assert main(["prepare", str(folder), "--out", str(tmp_path / "f"), "--quiet", "--skip-bad",
                 "--workers", "1"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "skipped " in out and "junk.png" in out and "cut.png" in out
    manifest = json.loads((tmp_path / "f" / "manifest.json").read_text())
    assert manifest["count"] == 120 and len(manifest["skipped"]) == 2
    assert "cut.png" not in (tmp_path / "f" / "files.txt").read_text()
    same_splits(load_dataset(tmp_path / "f"), load_image_folder(folder, skip_bad=True))


def test_mixed_sizes_name_the_first_that_differs_or_are_resized(folder, tmp_path, capsys):
    Image.new("L", (9, 7)).save(folder / "c0" / "zz_small.png")
    assert main(["prepare", str(folder), "--out", str(tmp_path / "d"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "zz_small.png: is 9×7, the images before it are 12×12" in err and "--resize" in err
    assert main(["prepare", str(folder), "--out", str(tmp_path / "d"), "--quiet",
                 "--resize", "10x8"]) == 0  # fmt: skip
    data = load_dataset(tmp_path / "d")
    assert data.train.images.shape[1:] == (8, 10) and len(data.train) + len(data.valid) == 121
    assert main(["prepare", str(folder), "--out", str(tmp_path / "e"), "--resize", "10"]) == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


def test_a_file_is_prepared_with_its_own_splits(tmp_path):
    images, labels = synthetic_images(90)
    np.savez(tmp_path / "d.npz", x_train=images[:60], y_train=labels[:60], x_valid=images[60:70],
             y_valid=labels[60:70], x_test=images[70:], y_test=labels[70:])  # fmt: skip
    manifest = prepared.prepare(tmp_path / "d.npz", tmp_path / "data", progress=False)
    assert manifest["splits"] == {"train": [0, 60], "valid": [60, 70], "test": [70, 90]}
    data, original = load_dataset(tmp_path / "data"), load_array_file(tmp_path / "d.npz")
    same_splits(data, original)
    assert np.array_equal(data.test.images, original.test.images)
    np.save(tmp_path / "x.npy", images)
    assert isinstance(load_dataset(tmp_path / "x.npy").train.images, np.memmap)
    np.savez(tmp_path / "mixed.npz", x_train=images[:60], y_train=labels[:60], x_test=images[60:])
    with pytest.raises(DataError, match="labels for some splits and not for others"):
        prepared.prepare(tmp_path / "mixed.npz", tmp_path / "m", progress=False)
    with pytest.raises(DataError, match="skip_bad is for image folders"):
        prepared.prepare(tmp_path / "d.npz", tmp_path / "m", skip_bad=True, progress=False)


def test_damaged_prepared_data_is_one_error(folder, tmp_path):
    prepared.prepare(folder, tmp_path / "d", workers=1, progress=False)
    images = tmp_path / "d" / "images.npy"
    images.write_bytes(images.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"images.npy: expected \d+ bytes as the manifest says"):
        load_dataset(tmp_path / "d")
    (tmp_path / "d" / "manifest.json").write_text("{")
    with pytest.raises(DataError, match=r"manifest\.json: not readable JSON"):
        load_dataset(tmp_path / "d")


def rss_of_files_kb() -> int:
    status = Path("/proc/self/status")
    for line in status.read_text().splitlines() if status.is_file() else []:
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    pytest.skip("no RssFile in /proc/self/status (not Linux)")


def test_rows_are_read_from_the_file_without_mapping_it(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (16_000, 64, 64), np.uint8)  # 64 MB
    np.save(tmp_path / "x.npy", images)
    split = np.load(tmp_path / "x.npy", mmap_mode="r")[1000:]  # a split: rows from 1000 on
    rows = batches.FileRows(split)
    before = rss_of_files_kb()
    index = np.random.default_rng(1).integers(-len(split), len(split), 5000)
    assert np.array_equal(rows[index], images[1000:][index])
    assert np.array_equal(rows[7:4000], images[1007:5000])
    assert np.array_equal(rows[::4000], images[1000::4000])
    assert sum(len(rows[i : i + 1000]) for i in range(0, len(rows), 1000)) == 15_000  # all of it
    assert rss_of_files_kb() - before < 8_000  # not the 64 MB a mapping would have taken in
    with pytest.raises(IndexError):
        rows[np.array([15_000])]
    with pytest.raises(IndexError, match="not by a mask"):
        rows[np.ones(len(rows), bool)]
    assert rows[10:5].shape == (0, 64, 64) and rows[np.int64(3)].shape == (1, 64, 64)


def test_memory_mapped_training_equals_in_memory_training(folder, tmp_path, monkeypatch):
    prepared.prepare(folder, tmp_path / "d", workers=1, progress=False)
    mapped = load_dataset(tmp_path / "d")
    read = []
    monkeypatch.setattr(batches.FileRows, "_read", lambda self, out, row, read_row=batches.FileRows._read:
                        read.append(row) or read_row(self, out, row))  # fmt: skip

    def fit(split_of):
        torch.manual_seed(0)
        model = build_model(
            ModelConfig(input_shape=(1, 12, 12), encoder={"kind": "dense", "units": [16, 4]})
        )
        trainer = Trainer(
            model, TrainingConfig(epochs=2, batch_size=8, lr=0.5), torch.device("cpu")
        )
        history = trainer.fit(split_of(mapped.train), split_of(mapped.valid))
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history], model

    (in_memory, a), (on_disk, b) = (fit(lambda s: Split(np.array(s.images), s.labels)),
                                    fit(lambda s: s))  # fmt: skip
    assert in_memory == on_disk and len(read) > 2 * len(mapped.train)  # two epochs read from disk
    for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y)


def test_a_large_folder_goes_through_prepare_once(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "IN_MEMORY_BYTES", 1000)
    data, in_memory = load_dataset(folder), load_image_folder(folder)
    assert isinstance(data.train.images, np.memmap) and data.kind == "folder"
    same_splits(data, in_memory)
    assert "preparing them once (autoencode prepare) in" in capsys.readouterr().err
    monkeypatch.setattr(folders, "decode", None)  # the second time nothing is decoded
    same_splits(load_dataset(data.ref), in_memory)
