"""Images as uint8 tensors (all of them on the device, or gathered batch by batch from a
memory-mapped file), and the per-batch conversion to float on the device."""

from __future__ import annotations

import mmap
import os
import weakref

import numpy as np
import torch


def image_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 ``(N, H, W)`` / ``(N, H, W, C)`` to a uint8 ``(N, C, H, W)`` tensor on ``device``."""
    if not images.flags.writeable:  # a read-only mapped file: torch wants memory it may write
        images = np.array(images)
    t = torch.from_numpy(np.ascontiguousarray(images))
    t = t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()
    return t.to(device)


def to_float(batch: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 pixels to floats (float32 unless a float64 model asks) in [0, 1], as the seed's
    ``X / 255.0``."""
    return batch.to(dtype).div_(255.0)


class FileRows:
    """The rows of a memory-mapped array read with ``pread`` from its file, not through the
    mapping: touching a mapping maps whole folios of the file around each row into the process
    (here a few thousand random 4 KB rows mapped the whole 4 GB file), and they count as its
    resident memory; rows read with ``pread`` cost only the rows (the system's file cache
    keeps the file, outside any process)."""

    def __init__(self, images: np.memmap):
        mapping = images._mmap  # the memmap's mmap; it starts at the granularity-aligned offset
        base = np.frombuffer(mapping, np.uint8).ctypes.data
        start = images.offset - images.offset % mmap.ALLOCATIONGRANULARITY
        self.position = start + images.ctypes.data - base  # the file offset of row 0
        self.shape, self.row_bytes = images.shape, images[0].nbytes if len(images) else 0
        self.fd = os.open(images.filename, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)

    @staticmethod
    def fits(images: np.ndarray) -> bool:
        """A C-contiguous slice of a file-backed memmap (what ``np.load(mmap_mode=...)`` gives)."""
        return (
            isinstance(images, np.memmap)
            and isinstance(getattr(images, "_mmap", None), mmap.mmap)
            and bool(images.filename)
            and images.flags.c_contiguous
            and images.mode != "c"
        )  # fmt: skip (copy-on-write: the file is not the array)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: np.ndarray | slice) -> np.ndarray:
        if isinstance(index, slice):
            first, stop, step = index.indices(self.shape[0])
            out = np.empty((max(0, stop - first), *self.shape[1:]), np.uint8)
            if step == 1 and out.size:
                self._read(out, first)
                return out
            index = np.arange(first, stop, step) if step != 1 else np.arange(0)
        if np.asarray(index).dtype == bool:
            raise IndexError("rows are chosen by integer indices here, not by a mask")
        index = np.atleast_1d(np.asarray(index, dtype=np.int64))
        if len(index) and (index.min() < -self.shape[0] or index.max() >= self.shape[0]):
            raise IndexError(f"row index out of range for {self.shape[0]} rows")
        index = np.where(index < 0, index + self.shape[0], index)
        out = np.empty((len(index), *self.shape[1:]), np.uint8)
        for i in np.argsort(index, kind="stable"):  # in file order: kinder to a disk
            self._read(out[i : i + 1], int(index[i]))
        return out

    def _read(self, out: np.ndarray, row: int) -> None:
        want, done = out.nbytes, 0
        view = memoryview(out).cast("B")
        while done < want:  # pread may return less than asked
            got = os.preadv(self.fd, [view[done:]], self.position + row * self.row_bytes + done)
            if got == 0:
                raise OSError(f"unexpected end of the images file at row {row}")
            done += got


class MappedImages:
    """uint8 images of a memory-mapped file, indexed like the tensor ``image_tensor`` would make:
    each batch (an index tensor or a slice) is read from the file when it is due (``FileRows``)
    and put on ``device``, so resident memory stays bounded whatever the file's size."""

    def __init__(self, images: np.memmap, device: torch.device):
        self.rows, self.device = FileRows(images), device

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: torch.Tensor | slice) -> torch.Tensor:
        return image_tensor(self.rows[index if isinstance(index, slice) else index.cpu().numpy()],
                            self.device)  # fmt: skip


def images_on(images: np.ndarray, device: torch.device) -> torch.Tensor | MappedImages:
    """All the images on ``device``, or, for a memory-mapped array, a batch gatherer."""
    return MappedImages(images, device) if FileRows.fits(images) else image_tensor(images, device)


def batches(images: np.ndarray, device: torch.device, batch_size: int = 1000):
    """uint8 ``(B, C, H, W)`` tensors on ``device``, ``batch_size`` images at a time, each read
    when its turn comes (from the file, for a memory-mapped array: ``FileRows``)."""
    source = MappedImages(images, device) if FileRows.fits(images) else None
    for i in range(0, len(images), batch_size):
        rows = slice(i, i + batch_size)
        yield source[rows] if source else image_tensor(images[rows], device)


@torch.inference_mode()
def apply_in_batches(fn, images: np.ndarray, device: torch.device, batch_size: int = 1000,
                     memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:  # fmt: skip
    """``fn`` over uint8 images in float batches on ``device`` (each converted when its turn
    comes, to the model's ``memory_format``); the results joined on the CPU."""
    return torch.cat([fn(to_float(batch).contiguous(memory_format=memory_format)).cpu()
                      for batch in batches(images, device, batch_size)])  # fmt: skip


def noisy_images(images: np.ndarray, noise: float, seed: int = 0) -> np.ndarray:
    """uint8 images with Gaussian noise of standard deviation ``noise`` (on the [0, 1] scale)
    added, clipped to [0, 1] and stored as uint8 again; the same seed, the same noise."""
    rng = np.random.default_rng(seed)
    noisy = images / 255.0 + noise * rng.standard_normal(images.shape)
    return np.rint(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
