"""Files: atomic writes of text, JSON, arrays and figures; tensors + JSON metadata in safetensors
files (no pickle anywhere).

Every file the library writes is written to a temporary file beside it and renamed over the old one,
so a crash or Ctrl-C leaves either the old file or the new one, never half of one; but for the raw
``.npy`` files ``prepare`` fills in place (``create_npy``), whose progress its own state records.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from autoencode.errors import AutoencodeError, FileFormatError

if TYPE_CHECKING:
    import torch


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, fsync it, rename it to ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AutoencodeError(f"{path.parent}: cannot make this folder ({e.strerror or e})") from e
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # as a plain open() would have made it
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise AutoencodeError(f"{path}: cannot write it ({e.strerror or e})") from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def is_temporary(name: str) -> bool:
    """Whether a file name is one of ``atomic_write``'s temporary files (``.NAME.PID.tmp``)."""
    return name.startswith(".") and name.endswith(".tmp")


def remove_stale_temporaries(folder: Path) -> None:
    """The temporary files that processes killed while writing left in ``folder`` and below;
    those of live processes stay."""
    for tmp in folder.rglob(".*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


class Locked(AutoencodeError):
    """Another process holds the lock; ``pid`` is what it wrote in the lock file (0: unknown)."""

    def __init__(self, path: Path, pid: int):
        super().__init__(f"{path}: held by process {pid or '?'}")
        self.path, self.pid = path, pid


@contextlib.contextmanager
def file_lock(path: str | Path, wait: bool = False):
    """An exclusive ``flock`` on ``path`` (made if missing) while inside, with this process's pid
    written in it; the kernel lets it go if the process dies. Held by another process: ``Locked``
    at once, or waits with ``wait``. Where the system has no ``flock``, nothing is locked."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        yield
        return
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise AutoencodeError(f"{path}: cannot open it to lock ({e.strerror or e})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise Locked(path, int(holder) if holder.isdigit() else 0) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, data) -> Path:
    return write_text(path, json.dumps(data, indent=2) + "\n")


def write_npy(path: str | Path, array) -> Path:
    """A numpy array as ``.npy``, atomically (through a file object: ``np.save`` would append
    ``.npy`` to the temporary path)."""
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array)

    return atomic_write(path, write)


@contextlib.contextmanager
def writing(path: str | Path):
    """Inside, an ``OSError`` (a full disk, say) is one line naming ``path`` and the reason."""
    try:
        yield
    except OSError as e:
        raise AutoencodeError(f"{path}: cannot write it ({e.strerror or e})") from None


def create_npy(path: Path, shape: tuple[int, ...]) -> None:
    """A .npy file of uint8 zeros of ``shape`` (sparse: no pixels written yet)."""
    import numpy as np

    with writing(path), open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|u1", "fortran_order": False, "shape": shape}
        )
        f.truncate(f.tell() + math.prod(shape))


def npy_offset(path: Path) -> int:
    """Where a .npy file's data starts: the size of its header."""
    import numpy as np

    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        return f.tell()


def csv_text(rows: list[dict], digits: int | None = None) -> str:
    """Rows (dicts) as CSV with a header of every key, in first-seen order; floats to ``digits``
    significant digits (by default all: they read back as the same floats)."""
    import io

    buffer = io.StringIO()
    _write_rows(buffer, list(dict.fromkeys(key for row in rows for key in row)), rows, digits)
    return buffer.getvalue()


def write_csv(path: str | Path, rows: list[dict]) -> Path:
    """Rows (dicts) as CSV (``csv_text``), floats to 6 digits."""
    return write_text(path, csv_text(rows, digits=6))


def stream_csv(path: str | Path, rows: Iterable[dict], digits: int | None = None) -> Path:
    """Rows (dicts with the first row's keys) written to a CSV file as they come, atomically:
    a million rows never sit in memory together, as rows or as text."""
    rows = iter(rows)
    first = next(rows, None)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            if first is not None:
                _write_rows(f, list(first), itertools.chain([first], rows), digits)

    return atomic_write(path, write)


def _write_rows(file, columns: list[str], rows: Iterable[dict], digits: int | None) -> None:
    import csv

    writer = csv.DictWriter(file, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{v:.{digits}g}" if isinstance(v, float) and digits else v
                         for k, v in row.items()})  # fmt: skip


def read_json(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileFormatError(f"{path}: missing") from None
    except (OSError, ValueError, RecursionError) as e:
        # ValueError: bad JSON or UTF-8, or an integer of more digits than Python converts;
        # RecursionError: arrays or objects nested deeper than Python's recursion limit
        raise FileFormatError(f"{path}: not readable JSON ({_first_line(e)})") from None
    if not isinstance(data, dict):
        raise FileFormatError(f"{path}: expected a JSON object")
    return data


def _first_line(error: Exception) -> str:
    """An exception's message as one line (a message that is part of another)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _printable(name: str) -> str:
    """A name from a file, as itself if printable, else as its repr (one line, escapes shown)."""
    return name if name.isprintable() else repr(name)


def save_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], meta: dict | None = None
) -> Path:
    """Tensors to a safetensors file, with ``meta`` (any JSON) stored in its header."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file  # torch only where tensors are: not for JSON

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    header = {"json": json.dumps(meta)} if meta is not None else None

    def write(tmp: Path) -> None:
        try:
            save_file(tensors, str(tmp), metadata=header)
        except SafetensorError as e:  # its I/O errors, a full disk among them, as the OSError
            found = re.search(r"os error (\d+)", str(e))
            number = int(found.group(1)) if found else errno.EIO
            raise OSError(number, os.strerror(number)) from None

    return atomic_write(path, write)


def tensor_header(path: str | Path) -> tuple[dict[str, tuple[str, tuple[int, ...]]], dict | None]:
    """Each tensor's dtype and shape, and the JSON metadata, from a safetensors file's header
    alone: nothing is allocated for the data, so a file can be checked before it is loaded."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: missing")
    try:
        with safe_open(str(path), "pt") as f:
            header = f.metadata() or {}
            shapes = {
                k: (f.get_slice(k).get_dtype(), tuple(f.get_slice(k).get_shape()))
                for k in f.keys()  # noqa: SIM118 (a safe_open handle, not a dict)
            }
        meta = json.loads(header["json"]) if "json" in header else None
    except (SafetensorError, OSError, ValueError, RecursionError) as e:
        raise FileFormatError(f"{path}: not a valid safetensors file ({_first_line(e)})") from None
    return shapes, meta


def load_tensors(
    path: str | Path, expected: dict[str, tuple[int, ...]] | None = None
) -> tuple[dict[str, torch.Tensor], dict | None]:
    """The inverse of ``save_tensors``; a missing or damaged file is a FileFormatError.

    With ``expected`` (name: shape), the header is checked against it before any tensor is read:
    a file from elsewhere cannot make the loader allocate what its header claims.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    shapes, meta = tensor_header(path)
    if expected is not None and (problem := shape_mismatch(shapes, expected)):
        raise FileFormatError(f"{path}: {problem}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise FileFormatError(f"{path}: not a valid safetensors file ({_first_line(e)})") from None
    return tensors, meta


def shape_mismatch(found: dict[str, tuple[str, tuple[int, ...]]],
                   expected: dict[str, tuple[int, ...]]) -> str | None:  # fmt: skip
    """How ``found`` (a header's dtypes and shapes) differs from ``expected`` float32 tensors."""
    if missing := sorted(set(expected) - set(found)):
        return f"lacks the tensor(s) {', '.join(missing[:3])}"
    if extra := sorted(set(found) - set(expected)):  # names from the file: shown as repr if odd
        return f"has unexpected tensor(s) {', '.join(_printable(n) for n in extra[:3])}"
    for name, shape in expected.items():
        dtype, got = found[name]
        if tuple(got) != tuple(shape) or dtype not in ("F32", "float32"):
            return f"tensor {name} is {dtype} {list(got)}, expected F32 {list(shape)}"
    return None
