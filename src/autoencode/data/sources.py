"""Where Fashion-MNIST comes from: an explicit folder, the user cache, Debian's package, or a download.

Checksums are SHA-256 of the decompressed IDX content: the official ``.gz`` files and Debian's
re-compressed copies hold the same bytes inside different gzip wrappers.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from autoencode.data.idx import content_sha256, read_bytes
from autoencode.errors import DataError

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "AUTOENCODE_DATA"


def cache_root() -> Path:
    """The user cache: ``$XDG_CACHE_HOME/autoencode`` (``~/.cache/autoencode``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autoencode"


def cache_dir() -> Path:
    """The user cache for downloads: ``$XDG_CACHE_HOME/autoencode/fashion-mnist``."""
    return cache_root() / "fashion-mnist"


@dataclass(frozen=True)
class Candidate:
    """One place Fashion-MNIST may be, and what of it is there."""

    origin: str
    path: Path
    missing: tuple[str, ...]
    explicit: bool = False  # named by the user: it must hold the files, or it is an error

    @property
    def complete(self) -> bool:
        return not self.missing


def _candidate(origin: str, path: Path, explicit: bool = False) -> Candidate:
    names = tuple(n for n in FASHION_MNIST_FILES if not _find_file(path, n))
    return Candidate(origin, path, names, explicit)


def _find_file(folder: Path, name: str) -> Path | None:
    """``name`` in ``folder``, or its decompressed twin (``...-ubyte``)."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def candidates(data_dir: str | Path | None = None) -> list[Candidate]:
    """The places looked at, in order: explicit folder, $AUTOENCODE_DATA, cache, Debian's."""
    places = []
    if data_dir is not None:
        places.append(("data_dir", Path(data_dir), True))
    if os.environ.get(ENV_VAR):
        places.append((f"${ENV_VAR}", Path(os.environ[ENV_VAR]), True))
    places += [("user cache", cache_dir(), False), ("Debian package", DEBIAN_DIR, False)]
    return [_candidate(*place) for place in places]


def locate_fashion_mnist(data_dir: str | Path | None = None, download: bool = True) -> Path:
    """The folder that holds all four Fashion-MNIST files, downloading them if none does.

    An explicit ``data_dir`` (or ``$AUTOENCODE_DATA``) must hold the files: a typo is not
    silently replaced by a download.
    """
    found = candidates(data_dir)
    for place in found:
        if place.explicit:
            named = "{parameter}" if place.origin == "data_dir" else place.origin
            if not place.path.is_dir():
                raise DataError(f"{place.path}: data directory ({named}) does not exist",
                                parameter="data_dir")  # fmt: skip
            if not place.complete:
                raise DataError(f"{place.path}: data directory ({named}) lacks "
                                f"{', '.join(place.missing)}", parameter="data_dir")  # fmt: skip
            return place.path
        if place.complete:
            return place.path
    if not download:
        raise DataError("Fashion-MNIST not found in " + ", ".join(str(p.path) for p in found))
    return download_fashion_mnist(cache_dir())


def fashion_mnist_file(folder: Path, name: str) -> bytes:
    """The verified, decompressed content of one Fashion-MNIST file in ``folder``."""
    path = _find_file(folder, name)
    if path is None:
        raise DataError(f"{folder / name}: no such file")
    content = read_bytes(path)
    if content_sha256(content) != FASHION_MNIST_FILES[name]:
        raise DataError(f"{path}: checksum mismatch (not the official Fashion-MNIST file)")
    return content


def download_fashion_mnist(folder: Path, base_url: str = FASHION_MNIST_URL) -> Path:
    """Download the four official files into ``folder``, each verified before it is kept."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, digest in FASHION_MNIST_FILES.items():
        target = folder / name
        if target.is_file():
            continue
        partial = target.with_suffix(".part")
        try:
            _fetch(base_url + name, partial)
            if content_sha256(read_bytes(partial)) != digest:
                raise DataError(f"{base_url + name}: checksum mismatch; the download was removed")
            partial.replace(target)
        except OSError as e:
            raise DataError(f"{base_url + name}: download failed ({e})") from None
        finally:
            partial.unlink(missing_ok=True)
    return folder


def _fetch(url: str, dest: Path) -> None:
    print(f"downloading {url}", flush=True)
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as f:
        while chunk := response.read(1 << 20):
            f.write(chunk)
