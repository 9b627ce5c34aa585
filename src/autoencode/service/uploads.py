"""Request bodies to uint8 images of the model's shape: PNG, JPEG (any image Pillow reads),
NPY or JSON, as the body itself or as the files of a multipart form.

A body is recognised by its first bytes, not by what its Content-Type claims. Every way a body
can be wrong is a :class:`RequestError` with a 4xx status and one line saying what was expected:
an unreadable image, a decompression bomb (refused from its header, before a pixel is decoded),
an image of another size or channel count (stretched to the model's with ``resize``), an array
of another shape, type or range, a ragged or deeply nested JSON array, too many images.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass

import numpy as np

from autoencode.data.folders import eight_bit, is_grey

NPY_MAGIC = b"\x93NUMPY"


class RequestError(Exception):
    """A request the service cannot take: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Limits:
    """What one request may carry."""

    max_images: int = 1024  # images in one request
    max_pixels: int = 4096 * 4096  # an uploaded image's width × height, read from its header
    resize: bool = False  # stretch images of another size (and channel count) to the model's


def images_from_body(body: bytes, shape: tuple[int, int, int], limits: Limits) -> np.ndarray:
    """One body (an image file, an .npy file or JSON) as uint8 images in the layout the model
    takes: ``(N, H, W)`` for one channel, else ``(N, H, W, C)``."""
    if not body:
        raise RequestError(400, "empty body: send an image (PNG, JPEG), an .npy file or JSON")
    if body.startswith(NPY_MAGIC):
        return _fitting(_npy(body, limits), shape, limits, "the .npy array")
    if body.lstrip()[:1] in (b"[", b"{"):
        most = limits.max_images * math.prod(shape)  # numbers a request may carry
        if body.count(b",") >= most:  # before parsing: a list of N numbers costs 36 N bytes
            raise RequestError(413, f"the JSON holds more than {most} numbers: at most "
                                    f"{limits.max_images} images a request")  # fmt: skip
        return _fitting(_json(body), shape, limits, "the JSON array")
    return _image(body, shape, limits)[None]


def _image(body: bytes, shape: tuple[int, int, int], limits: Limits) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    c, h, w = shape
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(body))
            width, height = image.size
            if width * height > limits.max_pixels:
                raise RequestError(413, f"the image is {width}×{height}: more than "
                                        f"{limits.max_pixels} pixels")  # fmt: skip
            image.load()
        if image.mode == ("L" if c == 1 else "RGB") and (width, height) == (w, h):
            return np.frombuffer(bytearray(image.tobytes()), np.uint8).reshape(
                shape[1:] if c == 1 else (h, w, c)
            )
        grey = is_grey(image)
        image = eight_bit(image)
    except RequestError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise RequestError(413, "the image decompresses to too many pixels") from None
    except UnidentifiedImageError:
        raise RequestError(415, "not an image (PNG, JPEG, ...), an .npy file or JSON") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise RequestError(415, f"not a readable image ({_first_line(e)})") from None
    if (width, height) != (w, h) or grey != (c == 1):
        if not limits.resize:
            found = f"{width}×{height} with {1 if grey else 3} channel(s)"
            raise RequestError(422, f"the image is {found}; the model takes {w}×{h} with {c} "
                                    "channel(s) (the service resizes when started with --resize)")  # fmt: skip
        image = image.resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(image.convert("L" if c == 1 else "RGB"), dtype=np.uint8)


def _npy(body: bytes, limits: Limits) -> np.ndarray:
    """An .npy file's array, its header checked before its data is read; never unpickled."""
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        header = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0}.get(version)  # fmt: skip
        if header is None:
            raise RequestError(400, f"an .npy file of version {version}: expected 1.0 or 2.0")
        shape, _, dtype = header(stream)  # the header alone, no data yet
        if dtype.hasobject or dtype.kind not in "uif":
            raise RequestError(422, f"the .npy array holds {dtype}: expected uint8 pixels or "
                                    "floats in [0, 1]")  # fmt: skip
        if math.prod(shape) > limits.max_images * limits.max_pixels * 4:
            raise RequestError(413, f"the .npy array's shape {shape} is too large")
        stream.seek(0)
        return np.load(stream, allow_pickle=False)
    except RequestError:
        raise
    except (ValueError, OSError, EOFError, TypeError, SyntaxError) as e:
        raise RequestError(400, f"not a readable .npy file ({_first_line(e)})") from None


def _json(body: bytes) -> np.ndarray:
    """``{"images": [...]}`` or a bare nested list of pixels (uint8, or floats in [0, 1])."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise RequestError(400, f"not valid JSON ({_first_line(e)})") from None
    if isinstance(data, dict):
        if set(data) != {"images"}:
            raise RequestError(422, 'expected {"images": [...]} or a bare array of pixels')
        data = data["images"]
    try:
        array = np.asarray(data)
    except (ValueError, RecursionError):
        raise RequestError(422, "a ragged array: every image must have the same shape") from None
    if array.dtype.kind not in "iuf":
        raise RequestError(422, "expected an array of numbers (uint8 pixels, or floats in [0, 1])")
    return array


def _fitting(array: np.ndarray, shape: tuple[int, int, int], limits: Limits,
             what: str) -> np.ndarray:  # fmt: skip
    """An array of pixels as uint8 images of the model's layout, or a RequestError."""
    c, h, w = shape
    image = (h, w) if c == 1 else (h, w, c)
    if c == 1 and array.ndim >= 3 and array.shape[-1] == 1 and array.shape[-3:-1] == (h, w):
        array = array[..., 0]
    if array.shape == image:
        array = array[None]
    if array.shape[1:] != image or len(array) == 0:
        raise RequestError(422, f"{what} has shape {array.shape}; the model takes "
                                f"{image} or (N, {', '.join(map(str, image))})")  # fmt: skip
    if len(array) > limits.max_images:
        raise RequestError(413, f"{len(array)} images: at most {limits.max_images} a request")
    if array.dtype.kind == "f":
        if not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
            raise RequestError(422, f"{what} holds floats outside [0, 1]")
        return np.rint(array * 255).astype(np.uint8)
    if array.min() < 0 or array.max() > 255:
        raise RequestError(422, f"{what} holds integers outside 0..255")
    return array.astype(np.uint8)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
