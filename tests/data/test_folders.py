"""Image folders as datasets: classes from subfolders, one size, clear errors."""

import numpy as np
import pytest
from PIL import Image

from autoencode.cli.main import main
from autoencode.data.datasets import load_dataset
from autoencode.errors import DataError
from autoencode.run import load_run
from conftest import synthetic_images


def write_images(folder, images, mode="L"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image).convert(mode).save(folder / f"{i:03d}.png")


@pytest.fixture
def labelled(tmp_path):
    images, labels = synthetic_images(40, size=16)
    for c in range(2):
        write_images(tmp_path / "shapes" / f"class_{c}", images[labels % 2 == c])
    return tmp_path / "shapes"


def test_classes_from_subfolders(labelled):
    data = load_dataset(labelled)
    assert (len(data.train), len(data.valid)) == (36, 4)
    assert data.class_names == ("class_0", "class_1")
    assert data.train.images.shape[1:] == (16, 16) and data.train.images.dtype == np.uint8
    assert set(np.concatenate([data.train.labels, data.valid.labels])) == {0, 1}


def test_rgb_and_unlabelled(tmp_path):
    write_images(tmp_path / "rgb", synthetic_images(10, size=12)[0], mode="RGB")
    Image.new("RGB", (12, 12), (255, 0, 0)).save(tmp_path / "rgb" / "red.png")
    data = load_dataset(tmp_path / "rgb")
    assert data.train.images.shape[1:] == (12, 12, 3) and data.train.labels is None
    assert data.image_shape == (3, 12, 12)


@pytest.mark.parametrize("damage, message", [
    (lambda d: Image.new("L", (9, 9)).save(d / "class_0" / "zzz.png"), r"zzz.png: is 9×9, the images before it are 16×16; .* resize them all: resize\)"),
    (lambda d: (d / "class_1" / "zzz.png").write_bytes(b"not an image"), r"zzz.png: not a readable image .*leave such files out: skip_bad\)"),
])  # fmt: skip
def test_bad_folders(labelled, damage, message):
    damage(labelled)
    with pytest.raises(DataError, match=message):
        load_dataset(labelled)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="expected images"):
        load_dataset(tmp_path / "empty")


def test_train_on_a_folder(labelled, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--data",
                str(labelled),
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        == 0
    )
    run = load_run(tmp_path / "r")
    assert run.config.model.input_shape == (1, 16, 16)
    assert run.load_dataset().class_names == ("class_0", "class_1")


def test_sixteen_bit_greyscale_keeps_its_range(tmp_path):
    deep = (np.arange(2 * 8 * 8).reshape(2, 8, 8) * 500).astype(np.uint16)  # 0 .. 63,500
    (tmp_path / "deep").mkdir()
    for i, image in enumerate(deep):
        Image.fromarray(image).save(tmp_path / "deep" / f"{i}.png")  # mode I;16
    data = load_dataset(tmp_path / "deep")
    both = np.concatenate([data.valid.images, data.train.images])
    assert both.shape == (2, 8, 8)  # greyscale, not RGB
    assert {tuple(x.ravel()) for x in both} == {
        tuple((x >> 8).astype(np.uint8).ravel()) for x in deep
    }
