"""``autoencode explore``: one self-contained HTML page to explore a run's codings.

The page needs nothing once written: no server, no network. Its script, style, data and the
decoder's weights are inline. It draws every point of a split's 2-D map (canvas pixels, so
70,000 points redraw in milliseconds), shows the image under the cursor, the nearest neighbours
of a clicked point in coding space (not in the map) and its reconstruction, and decodes
codings live: sliders move the selected point's coding, and a click on an empty spot decodes
the coding interpolated from the map's nearest points there.

The decoder runs in the page's own JavaScript (``page/explore.js``): dense and transposed-
convolution layers from :func:`decoder_layers`, which reads them off the model's decoder.
Arrays travel as base64 of zlib-compressed bytes, which the browser inflates with its own
``DecompressionStream``; images are the split's uint8 pixels (the thumbnails' sprite sheet).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

from autoencode.analysis.embedding import check_map_method, embed, map_codings, map_provenance
from autoencode.data.types import Dataset
from autoencode.errors import AutoencodeError, DataError
from autoencode.io import write_text
from autoencode.run import Run, load_run

# codings above this many bytes as float32 travel as float16 (half the page; the decoder,
# the neighbours and the CSV then see them rounded to about 3 significant digits)
FLOAT32_CODINGS_BYTES = 48 * 2**20
SAMPLE_DRAWS = 64  # codings drawn from the run's sampler, for the decode panel's sample button


def explore(run: Run | str | Path, data: Dataset | str | None = None, *, split: str = "valid",
            method: str = "tsne", seed: int = 42, out: str | Path | None = None,
            data_dir=None, progress: bool = False, sampler: str | None = "auto") -> Path:  # fmt: skip
    """Write the explorer page of a split's codings (default RUN/explore.html for the validation
    split, RUN/explore_<split>.html for another) and return its path. The map is the run's own
    (``autoencode map`` of the same split and method) when one was drawn, else drawn here. The
    decode panel's "sample" button decodes codings drawn from ``sampler`` (a fitted sampler's
    name or ``prior``; ``auto``: the run's fitted sampler if it has one, else its prior if it is
    generative; None: no button)."""
    check_map_method(method)  # before any work
    run = load_run(run)
    dataset = run.load_dataset(data_dir, data=data)
    chosen = dataset.split(split)
    codings = embed(run, chosen.images, progress=progress)
    coords, coords_from = _map(run, chosen.images, codings, method, split, seed)
    meta = {
        "title": run.path.name, "kind": run.config.model.description, "preset": run.config.preset,
        "data": dataset.name, "split": split, "method": method, "mapFrom": coords_from,
        "points": len(chosen), "image": list(_image_shape(chosen.images)),
        "codingsShape": list(run.model.codings_shape), "classes": None, "labelValues": None,
    }  # fmt: skip
    layers, weights, note = _decoder(run)
    meta["decoder"], meta["decoderNote"] = layers, note
    blobs = {"coords": coords.astype(np.float32), "images": chosen.images,
             "codings": _codings_array(codings), **weights}  # fmt: skip
    meta["sampler"] = sampler = _sampler_of(run, sampler)
    if sampler is not None and layers is not None:
        draws = run.draw_codings(SAMPLE_DRAWS, seed, sampler).flatten(1).float().cpu().numpy()
        blobs["draws"] = draws
    if chosen.labels is not None:
        blobs["labels"], meta["classes"], meta["labelValues"] = _classes(dataset, chosen.labels)
    return write_text(out or run.folder.explore_file(split), render_page(meta, blobs))


def _sampler_of(run: Run, sampler: str | None) -> str | None:
    """The sampler the page draws from: as asked, or (``auto``) the run's fitted one, ``gmm``
    first, else its prior where the objective has one."""
    if sampler != "auto":
        return sampler
    fitted = run.folder.sampler_names()
    if fitted:
        return "gmm" if "gmm" in fitted else fitted[0]
    return "prior" if run.model.generative else None


def _image_shape(images: np.ndarray) -> tuple[int, int, int]:
    """(height, width, channels) of a split's uint8 images."""
    return (*images.shape[1:3], images.shape[3] if images.ndim == 4 else 1)


def _classes(dataset: Dataset, labels: np.ndarray) -> tuple[np.ndarray, list[str], list[int]]:
    """The labels as class numbers 0, 1, ... in the order of their values (whatever those are),
    a name per class (the dataset's, else the value), and the value of each class."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind not in "bf" or not np.array_equal(labels, np.round(labels)):
            raise DataError(f"labels must be whole numbers, got {labels.dtype} values")
        labels = labels.astype(np.int64)
    values, numbers = np.unique(labels, return_inverse=True)
    names = dataset.class_names or ()
    return (
        numbers.astype(np.int32),
        [names[v] if 0 <= v < len(names) else str(v) for v in values],
        [str(v) for v in values],
    )  # the values as strings: JavaScript's numbers end at 2^53


def _codings_array(codings: np.ndarray) -> np.ndarray:
    flat = codings.reshape(len(codings), -1)  # conv codings: (c, h, w) flattened
    if flat.nbytes > FLOAT32_CODINGS_BYTES:
        half = flat.astype(np.float16)
        if np.isfinite(half).all():  # none beyond float16's 65,504
            return half
    return flat.astype(np.float32)


def _map(run: Run, images: np.ndarray, codings: np.ndarray, method: str, split: str,
         seed: int) -> tuple[np.ndarray, str]:  # fmt: skip
    """The map ``autoencode map`` drew of these images with these weights and this seed, while
    its file is unchanged; else a new one. With where it came from."""
    found = _recorded_map(run, f"{method}_{split}", images, seed)
    if found is not None and found[0].shape == (len(codings), 2):
        return found[0], f"{found[1]} (autoencode map)"
    return map_codings(codings, method, seed), "drawn for this page"


def _recorded_map(run: Run, key: str, images: np.ndarray,
                  seed: int) -> tuple[np.ndarray, str] | None:  # fmt: skip
    """The coordinates recorded under ``key`` in metrics.json, and their file, if they fit."""
    try:
        recorded = run.folder.read_metrics().get("maps", {}).get(key)
        if not isinstance(recorded, dict) or "coords" not in recorded:
            return None
        if any(recorded.get(k) != v for k, v in map_provenance(run, images, seed).items()):
            return None  # other weights (a resumed run), other images or another seed
        path = run.path / str(recorded["coords"])
        if not path.is_file() or recorded.get("coords_sha256") != _sha256(path):
            return None
        coords = np.load(path, allow_pickle=False)
    except (AutoencodeError, OSError, ValueError):  # anything unreadable: draw the map again
        return None
    if not isinstance(coords, np.ndarray) or coords.dtype.kind != "f" or coords.ndim != 2:
        if hasattr(coords, "close"):
            coords.close()  # an .npz
        return None
    return coords, str(recorded["coords"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the decoder, as layers the page runs -------------------------------------------------------


# the activations explore.js computes
PAGE_ACTIVATIONS = ("linear", "relu", "selu", "elu", "gelu", "tanh", "sigmoid")


class _Unsupported(Exception):
    """A decoder layer the page's JavaScript does not run (the page then has no decode panel)."""


def _decoder(run: Run) -> tuple[list[dict] | None, dict[str, np.ndarray], str]:
    try:
        layers, weights = decoder_layers(run.model)
    except _Unsupported as e:
        return None, {}, f"the page cannot run this decoder: {e}"
    count = sum(w.size for w in weights.values())
    return layers, weights, f"{len(layers)} layers, {count:,} weights, run in the page"


def decoder_layers(model) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The model's decoder as a list of layers (dense, transposed convolution, reshape) with
    their shapes and activations, and their weights by name; the page ends with a sigmoid."""
    import torch

    decoder = model.decoder  # an nn.Sequential, as every decoder part builds
    shapes = _layer_shapes(model, decoder)
    layers, weights = [], {}
    for i, module in enumerate(decoder):
        layer, tensors = _layer(module, *shapes[i])
        layers.append(layer)
        for name, tensor in tensors.items():
            layer[name] = f"w{i}_{name}"
            weights[layer[name]] = tensor.detach().to("cpu", torch.float32).contiguous().numpy()
    return layers, weights


def _layer_shapes(model, decoder) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Each layer's (input, output) shape per example, from one coding through the decoder."""
    import torch

    shapes: list = []
    hooks = [
        m.register_forward_hook(
            lambda m, i, o: shapes.append((tuple(i[0].shape[1:]), tuple(o.shape[1:])))
        )
        for m in decoder
    ]
    try:
        with torch.inference_mode():
            decoder(torch.zeros(1, *model.codings_shape, device=next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


def _layer(module, shape_in: tuple[int, ...], shape_out: tuple[int, ...]) -> tuple[dict, dict]:
    """One layer's description and tensors; raises _Unsupported for any other kind."""
    from torch import nn

    from autoencode.models.layers import ConvTranspose, Dense
    from autoencode.models.parts import TiedDense

    base = {"in": list(shape_in), "out": list(shape_out)}
    if isinstance(module, (nn.Flatten, nn.Unflatten)):
        return {"op": "reshape", **base}, {}  # the page keeps arrays flat, in (C, H, W) order
    if getattr(module, "activation", "linear") not in PAGE_ACTIVATIONS:
        raise _Unsupported(f"the activation {module.activation!r}")
    if isinstance(module, Dense):
        return {"op": "dense", "act": module.activation, **base}, {
            "weight": module.weight, "bias": module.bias}  # fmt: skip
    if isinstance(module, TiedDense):
        return {"op": "dense", "act": module.activation, **base}, {
            "weight": module._source[0].weight.t(), "bias": module.bias}  # fmt: skip
    plain = (module.padding, module.output_padding, module.dilation, module.groups) == (
        (0, 0), (0, 0), (1, 1), 1) if isinstance(module, ConvTranspose) else False  # fmt: skip
    if plain:
        layer = {"op": "convT", "act": module.activation, "kernel": list(module.kernel_size),
                 "stride": list(module.stride), **base}  # fmt: skip
        return layer, {"weight": module.weight, "bias": module.bias}
    raise _Unsupported(f"a {type(module).__name__} layer")


# -- the page ------------------------------------------------------------------------------------


def _blob(name: str, array: np.ndarray) -> str:
    """An array as a script element the page reads: base64 of its zlib-compressed bytes."""
    array = np.ascontiguousarray(array)
    dtype = {"uint8": "u1", "int32": "i4", "float32": "f4", "float16": "f2"}[array.dtype.name]
    payload = base64.b64encode(
        zlib.compress(array.astype(array.dtype.newbyteorder("<")).tobytes(), 6)
    )
    shape = json.dumps(list(array.shape))
    return (f'<script type="application/octet-stream" id="blob-{html.escape(name)}" '
            f"data-dtype={dtype} data-shape='{shape}'>{payload.decode()}</script>")  # fmt: skip


def _asset(name: str) -> str:
    return resources.files("autoencode").joinpath("page", name).read_text(encoding="utf-8")


def render_page(meta: dict, blobs: dict[str, np.ndarray]) -> str:
    """The page's HTML: the template with the style, the data (``meta`` as JSON, ``blobs`` as
    compressed arrays) and the script inline."""
    if not set(blobs) >= {"coords", "images", "codings"}:
        raise AutoencodeError("an explorer page needs coords, images and codings")  # a bug
    data = json.dumps(meta).replace("<", "\\u003c")  # JSON inside a script element
    parts = {
        "title": html.escape(f"{meta['title']}: {meta['split']} codings"),
        "style": _asset("explore.css"),
        "meta": f'<script type="application/json" id="meta">{data}</script>',
        "blobs": "\n".join(_blob(name, array) for name, array in blobs.items()),
        "script": _asset("explore.js"),
    }
    # one pass: what is put in is never searched again (a run named "{{blobs}}" stays a name)
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m[1]], _asset("explore.html"))
