"""Atomic file writes, and tensors + JSON metadata in safetensors files (no pickle anywhere).

Every file of a run folder is written to a temporary file beside it and renamed over the old one,
so a crash or Ctrl-C leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from autoencode.errors import AutoencodeError, RunFolderError


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


def read_json(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunFolderError(f"{path}: not readable JSON ({e})") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path}: expected a JSON object")
    return data


def save_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], meta: dict | None = None
) -> Path:
    """Tensors to a safetensors file, with ``meta`` (any JSON) stored in its header."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    header = {"json": json.dumps(meta)} if meta is not None else None
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=header))


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """The inverse of ``save_tensors``; a missing or damaged file is a RunFolderError."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise RunFolderError(f"{path}: missing")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), "pt") as f:
            header = f.metadata() or {}
        meta = json.loads(header["json"]) if "json" in header else None
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as e:
        raise RunFolderError(f"{path}: not a valid safetensors file ({e})") from None
    return tensors, meta


def flatten_optimizer_state(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer ``state_dict`` as flat tensors plus JSON (param groups, non-tensor values)."""
    tensors, scalars = {}, {}
    for pid, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {int(pid): dict(v) for pid, v in meta["scalars"].items()}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}
