"""Image folders as datasets: ``folder/<class>/*.png`` (labelled) or ``folder/*.png`` (unlabelled).

Images are read with Pillow (which matplotlib brings), as greyscale when every image is, else RGB;
all must share one size. A seeded random tenth is held out for validation (a folder sorted by
class would otherwise give a validation set of one class).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from autoencode.data.types import Dataset, Split
from autoencode.errors import DataError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)


def _read(paths: list[Path]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    opened = []
    for path in paths:
        try:  # a header claiming more pixels than Pillow's limit is refused before decoding
            with warnings.catch_warnings(), Image.open(path) as image:
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image.load()
                opened.append((path, image.copy()))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
            raise DataError(f"{path}: too large an image ({e})") from None
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{path}: not a readable image ({e})") from None
    mode = "L" if all(im.mode in ("L", "1", "P", "LA") and _grey(im) for _, im in opened) else "RGB"
    size = opened[0][1].size
    arrays = []
    for path, image in opened:
        if image.size != size:
            raise DataError(f"{path}: is {image.size[0]}×{image.size[1]}, the first image "
                            f"{paths[0].name} is {size[0]}×{size[1]}; all images must share one size")  # fmt: skip
        arrays.append(np.asarray(image.convert(mode), dtype=np.uint8))
    return np.stack(arrays)


def read_image(path: str | Path) -> np.ndarray:
    """One image file as uint8: (H, W) when greyscale, else (H, W, 3)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    return _read([path])[0]


def _grey(image) -> bool:
    """A palette image counts as greyscale only if its palette is."""
    if image.mode != "P":
        return True
    rgb = np.asarray(image.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def load_image_folder(path: str | Path, valid_fraction: float = 0.1, seed: int = 0) -> Dataset:
    """A dataset from a folder of images, one subfolder per class (or none: no labels)."""
    path = Path(path)
    classes = sorted(p for p in path.iterdir() if p.is_dir() and _images_in(p))
    files = [f for c in classes for f in _images_in(c)] if classes else _images_in(path)
    if len(files) < 2:
        raise DataError(f"{path}: expected images ({', '.join(sorted(EXTENSIONS))}) in it or in "
                        "one subfolder per class, found fewer than 2")  # fmt: skip
    images = _read(files)
    labels = None
    if classes:
        labels = np.concatenate([np.full(len(_images_in(c)), i) for i, c in enumerate(classes)])
    order = np.random.default_rng(seed).permutation(len(images))
    n_valid = max(1, round(len(images) * valid_fraction))
    valid, train = order[:n_valid], order[n_valid:]

    def split(idx):
        return Split(images[idx], None if labels is None else labels[idx])

    return Dataset(
        name=path.name, train=split(train), valid=split(valid), test=None,
        class_names=tuple(c.name for c in classes) or None, source=str(path.resolve()),
        kind="folder",
    )  # fmt: skip
