"""Image folders: ``folder/<class>/*.png`` (labelled) or ``folder/*.png`` (unlabelled).

Reading a folder is planned in two passes that any pool of processes can run chunk by chunk:
``scan`` reads each image's header (its size and whether it is greyscale), ``decode`` reads the
pixels of a chunk into one uint8 array. Images are greyscale when every image is, else RGB; all
must share one size unless a size to resize to is given (stretched, not cropped). A seeded random
tenth is held out for validation (a folder sorted by class would otherwise give a validation set of
one class): position ``p`` of the result holds file ``order[p]``, the first ``n_valid`` positions
are the validation split. Small folders are decoded in memory here; ``prepared`` writes large ones
to disk through the same plan.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autoencode.data.types import Dataset, Split
from autoencode.errors import DataError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
GREY_MODES = ("L", "1", "P", "LA")
CHUNK = 512  # images per task handed to a worker


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)


def list_folder(path: Path) -> tuple[list[Path], np.ndarray | None, tuple[str, ...] | None]:
    """The images of a folder in sorted order, their labels and class names (none if unlabelled)."""
    if not path.is_dir():
        raise DataError(f"{path}: no such folder")
    classes = sorted(p for p in path.iterdir() if p.is_dir() and _images_in(p))
    if not classes:
        files = _images_in(path)
        labels, names = None, None
    else:
        per_class = [_images_in(c) for c in classes]
        files = [f for group in per_class for f in group]
        labels = np.concatenate([np.full(len(g), i, np.int64) for i, g in enumerate(per_class)])
        names = tuple(c.name for c in classes)
    if len(files) < 2:
        raise DataError(f"{path}: expected images ({', '.join(sorted(EXTENSIONS))}) in it or in "
                        "one subfolder per class, found fewer than 2")  # fmt: skip
    return files, labels, names


def _open(path: Path, load: bool = True):
    """A Pillow image, decoded unless ``load`` is false (its header only); a DataError naming
    the file if it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:  # a header claiming more pixels than Pillow's limit is refused before decoding
        with warnings.catch_warnings(), Image.open(path) as image:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if not load:
                return image
            image.load()
            return image.copy()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: too large an image ({e})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None


def is_grey(image) -> bool:
    """Greyscale: a grey mode (16-bit ones too), and for a palette image, a grey palette."""
    if image.mode.startswith("I;16"):
        return True
    if image.mode not in GREY_MODES:
        return False
    if image.mode != "P":
        return True
    rgb = np.asarray(image.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def scan(paths: list[Path]) -> list[tuple[int, int, bool] | str]:
    """For each image: ``(width, height, greyscale)`` from its header, or the error's message."""
    found = []
    for path in paths:
        try:
            image = _open(path, load=False)
            if image.mode == "P":  # the palette decides: decode this one
                image = _open(path)
            found.append((*image.size, is_grey(image)))
        except DataError as e:
            found.append(str(e))
    return found


def decode(paths: list[Path], grey: bool, size: tuple[int, int],
           resize: bool) -> tuple[np.ndarray, list[tuple[int, str]]]:  # fmt: skip
    """The pixels of ``paths`` as one uint8 array (rows of a bad image left zero), and the bad
    ones' (index, message)."""
    from PIL import Image

    width, height = size
    out = np.zeros((len(paths), height, width, *(() if grey else (3,))), np.uint8)
    bad = []
    for i, path in enumerate(paths):
        try:
            image = _open(path)
        except DataError as e:
            bad.append((i, str(e)))
            continue
        image = eight_bit(image).convert("L" if grey else "RGB")
        if image.size != size:
            if not resize:
                bad.append(
                    (i, f"{path}: is {image.size[0]}×{image.size[1]}, not {size[0]}×{size[1]}")
                )
                continue
            image = image.resize(size, Image.Resampling.BILINEAR)
        out[i] = np.asarray(image, dtype=np.uint8)
    return out, bad


def eight_bit(image):
    """A 16-bit greyscale image (``I;16``) as 8-bit by its high byte; Pillow's own conversion
    clips values above 255 instead, which turns such images white."""
    from PIL import Image

    if not image.mode.startswith("I;16"):
        return image
    return Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8), "L")


def _size_message(path: Path, got: tuple[int, int], wanted: tuple[int, int]) -> str:
    return (f"{path}: is {got[0]}×{got[1]}, the images before it are {wanted[0]}×{wanted[1]}; "
            "all images must share one size (or resize them all: {parameter})")  # fmt: skip


def bad_image(message: str) -> DataError:
    """The error for an unreadable image, which ``skip_bad`` would leave out."""
    return DataError(message + " (or leave such files out: {parameter})", parameter="skip_bad")


def read_image(path: str | Path) -> np.ndarray:
    """One image file as uint8: (H, W) when greyscale, else (H, W, 3)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    image = _open(path)
    grey = is_grey(image)
    return decode([path], grey, image.size, resize=False)[0][0]


Mapper = Callable[[Callable, Iterable], Iterable]  # builtin ``map`` or a pool's ordered map


def chunks(items: list, size: int = CHUNK) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class FolderPlan:
    """How a folder becomes an array: files in output order, their labels, one size and colour,
    the validation split's length, and the files left out (``--skip-bad``) with why."""

    source: Path
    files: list[Path]
    labels: np.ndarray | None
    class_names: tuple[str, ...] | None
    size: tuple[int, int]
    grey: bool
    resize: bool
    n_valid: int
    skipped: list[tuple[str, str]]

    @property
    def image_shape(self) -> tuple[int, ...]:
        return (self.size[1], self.size[0], *(() if self.grey else (3,)))


def plan_folder(path: str | Path, *, resize: tuple[int, int] | None = None, skip_bad: bool = False,
                valid_fraction: float = 0.1, seed: int = 0, mapper: Mapper = map) -> FolderPlan:  # fmt: skip
    """Scan a folder's headers (chunk by chunk through ``mapper``) and fix the output's order."""
    path = Path(path)
    files, labels, names = list_folder(path)
    headers = [h for part in mapper(scan, chunks(files)) for h in part]
    keep = [i for i, h in enumerate(headers) if not isinstance(h, str)]
    errors = [h for h in headers if isinstance(h, str)]
    if errors and not skip_bad:
        raise bad_image(errors[0])
    if not keep:
        raise DataError(f"{path}: none of its {len(files)} images is readable")
    size = resize or headers[keep[0]][:2]
    odd = next((i for i in keep if headers[i][:2] != size), None)
    if resize is None and odd is not None:
        raise DataError(_size_message(files[odd], headers[odd][:2], size), parameter="resize")
    n_valid = max(1, round(len(keep) * valid_fraction))
    if n_valid >= len(keep):
        raise DataError(f"{path}: need at least 2 readable images, found {len(keep)}")
    order = np.asarray(keep)[np.random.default_rng(seed).permutation(len(keep))]
    return FolderPlan(
        path, [files[i] for i in order], None if labels is None else labels[order], names, size,
        all(headers[i][2] for i in keep), resize is not None, n_valid,
        [(str(files[i]), h) for i, h in enumerate(headers) if isinstance(h, str)],
    )  # fmt: skip


def load_image_folder(path: str | Path, valid_fraction: float = 0.1, seed: int = 0,
                      resize: tuple[int, int] | None = None, skip_bad: bool = False) -> Dataset:  # fmt: skip
    """A dataset from a folder of images, one subfolder per class (or none: no labels), decoded
    into memory."""
    plan = plan_folder(path, resize=resize, skip_bad=skip_bad, valid_fraction=valid_fraction,
                       seed=seed)  # fmt: skip
    images, bad = decode(plan.files, plan.grey, plan.size, plan.resize)
    if bad and not skip_bad:
        raise bad_image(bad[0][1])
    good = np.setdiff1d(np.arange(len(images)), [i for i, _ in bad])
    n_valid = int((good < plan.n_valid).sum())
    if not 0 < n_valid < len(good):
        raise DataError(f"{plan.source}: with its {len(bad)} unreadable images left out, a "
                        "split has none; too few images")  # fmt: skip
    images = images[good]
    labels = None if plan.labels is None else plan.labels[good]

    def split(part: slice) -> Split:
        return Split(images[part], None if labels is None else labels[part])

    return Dataset(
        name=plan.source.name, train=split(slice(n_valid, None)), valid=split(slice(0, n_valid)),
        test=None, class_names=plan.class_names, source=str(plan.source.resolve()), kind="folder",
    )  # fmt: skip
