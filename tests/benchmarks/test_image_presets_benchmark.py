"""benchmarks/image_presets.py and its photos, small: held-out patches never share a pixel with
the training ones, and a cell measures the unseen photos and each epoch's validation loss."""

import math

import numpy as np
from PIL import Image

from conftest import benchmark_script


def test_a_photo_s_two_halves_tile_it_across_its_longer_side():
    photos = benchmark_script("photos")
    for shape in ((30, 50, 3), (50, 30, 3), (31, 31, 3)):
        picture = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        first, second = (np.asarray(photos.half(Image.fromarray(picture), i)) for i in (0, 1))
        axis = 1 if shape[1] >= shape[0] else 0
        assert first.shape[axis] == shape[axis] // 2
        np.testing.assert_array_equal(np.concatenate([first, second], axis=axis), picture)


def test_a_photo_cell_measures_the_unseen_photos_and_every_epoch(tmp_path):
    bench = benchmark_script("image_presets")
    result = bench.cell("photos", 16, 0.01, train=64, valid=16, figure=None)
    assert len(result["val_loss"]) == result["epochs"] >= 1
    assert all(math.isfinite(v) for v in result["val_loss"])
    assert 0 < result["unseen_psnr"] < 60 and 0 < result["held_out_psnr"] < 60
    assert bench.table([result]).splitlines()[-1].endswith(f"| {result['unseen_psnr']:.1f} dB |")
