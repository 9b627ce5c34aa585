"""Natural colour images for the benchmarks: square patches of the photos that scikit-learn and
scikit-image ship in their packages (no download), and Fashion-MNIST upscaled to the same size.

Eight photos (scikit-learn's temple, scikit-image's astronaut, cat, rocket, motorbike, Hubble
deep field, IHC stain and retina) are each cut in two halves across their longer side: training
patches come from one half, held-out patches from the other, so no held-out pixel is ever
trained on. Two more photos the model never sees at all (scikit-learn's flower and
scikit-image's coffee cup) give ``unseen_patches``: how far the model carries to other
pictures. Each patch is a random square of ¼ to ¾ of its half's shorter side, resized (Pillow's
box filter) to the size asked for, flipped left-right half of the time.

    from photos import photo_patches, unseen_patches, fashion_upscaled
    data = photo_patches(64, train=20_000, valid=2_000)      # an ae.Dataset, uint8 (N, 64, 64, 3)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import autoencode as ae

TRAIN_PHOTOS = ("china.jpg", "astronaut.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
                "hubble_deep_field.jpg", "ihc.png", "retina.jpg")  # fmt: skip
UNSEEN_PHOTOS = ("flower.jpg", "coffee.png")


def photo(name: str) -> np.ndarray:
    """One of the shipped photos (a file of scikit-learn's or scikit-image's) as uint8 (H, W, 3)."""
    if name in ("china.jpg", "flower.jpg"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(name)
    import skimage.data

    with Image.open(Path(skimage.data.data_dir) / name) as image:
        return np.asarray(image.convert("RGB"))


def half(picture: Image.Image, which: int) -> Image.Image:
    """The first (``which`` 0) or second half of ``picture``, cut across its longer side."""
    width, height = picture.size
    if width >= height:
        boxes = (0, 0, width // 2, height), (width // 2, 0, width, height)
    else:
        boxes = (0, 0, width, height // 2), (0, height // 2, width, height)
    return picture.crop(boxes[which])


def patches(pictures: list[Image.Image], n: int, size: int, seed: int) -> np.ndarray:
    """``n`` random patches of ``pictures`` (in turn), uint8 (n, size, size, 3)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        picture = pictures[i % len(pictures)]
        short = min(picture.size)
        side = int(rng.uniform(0.25, 0.75) * short)
        left = int(rng.integers(0, picture.size[0] - side + 1))
        top = int(rng.integers(0, picture.size[1] - side + 1))
        crop = picture.resize(
            (size, size), Image.Resampling.BOX, (left, top, left + side, top + side)
        )
        patch = np.asarray(crop)
        out[i] = patch[:, ::-1] if rng.random() < 0.5 else patch
    return out


def photo_patches(size: int, train: int, valid: int, seed: int = 0) -> ae.Dataset:
    """A dataset of photo patches: ``train`` from one half of each training photo, ``valid``
    (the held-out split) from the other halves."""
    photos = [Image.fromarray(photo(name)) for name in TRAIN_PHOTOS]
    return ae.Dataset(f"photo patches {size}px",
                      ae.Split(patches([half(p, 0) for p in photos], train, size, seed)),
                      ae.Split(patches([half(p, 1) for p in photos], valid, size, seed + 1)))  # fmt: skip


def unseen_patches(size: int, n: int, seed: int = 2) -> np.ndarray:
    """``n`` patches of the two photos no split draws from (the whole photos), uint8."""
    return patches([Image.fromarray(photo(name)) for name in UNSEEN_PHOTOS], n, size, seed)


def fashion_upscaled(size: int, train: int, valid: int) -> ae.Dataset:
    """The first ``train`` and ``valid`` Fashion-MNIST images resized to ``size`` (bilinear), as
    three equal channels."""
    data = ae.load_dataset("fashion-mnist")

    def upscale(images: np.ndarray) -> np.ndarray:
        grey = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BILINEAR))
                         for im in images])  # fmt: skip
        return np.repeat(grey[..., None], 3, axis=3)

    return ae.Dataset(f"fashion-mnist {size}px", ae.Split(upscale(data.train.images[:train])),
                      ae.Split(upscale(data.valid.images[:valid])))  # fmt: skip
