"""Images in memory as uint8 tensors, and the per-batch conversion to float on the device."""

from __future__ import annotations

import numpy as np
import torch


def image_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 ``(N, H, W)`` / ``(N, H, W, C)`` to a uint8 ``(N, C, H, W)`` tensor on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(images))
    t = t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()
    return t.to(device)


def to_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 pixels to float32 in [0, 1], as the seed's ``X / 255.0``."""
    return batch.float().div_(255.0)


@torch.inference_mode()
def apply_in_batches(
    fn, images: np.ndarray, device: torch.device, batch_size: int = 1000
) -> torch.Tensor:
    """``fn`` over uint8 images in float batches on ``device``; the results joined on the CPU."""
    tensor = image_tensor(images, device)
    return torch.cat(
        [fn(to_float(tensor[i : i + batch_size])).cpu() for i in range(0, len(tensor), batch_size)]
    )


def noisy_images(images: np.ndarray, noise: float, seed: int = 0) -> np.ndarray:
    """uint8 images with Gaussian noise of standard deviation ``noise`` (on the [0, 1] scale)
    added, clipped to [0, 1] and stored as uint8 again; the same seed, the same noise."""
    rng = np.random.default_rng(seed)
    noisy = images / 255.0 + noise * rng.standard_normal(images.shape)
    return np.rint(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
