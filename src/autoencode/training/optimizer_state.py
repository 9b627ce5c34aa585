"""Optimizer state as flat tensors plus JSON, for checkpoints in safetensors (no pickle)."""

from __future__ import annotations

import torch


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
    scalars = meta.get("scalars") if isinstance(meta, dict) else None
    if not isinstance(scalars, dict) or not all(isinstance(v, dict) for v in scalars.values()):
        raise ValueError("its optimizer state is not in the checkpoint's format")
    state: dict[int, dict] = {int(pid): dict(v) for pid, v in scalars.items()}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def _kind(value) -> str:
    """What JSON can tell apart: a tuple saved as JSON comes back a list, an int may be a float."""
    if value is None or isinstance(value, (bool, str)):
        return type(value).__name__
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, tuple)):
        return "sequence of " + ",".join(sorted({_kind(v) for v in value}))
    return type(value).__name__


def check_optimizer_state(state: dict, optimizer: torch.optim.Optimizer) -> None:
    """A saved ``state_dict`` that fits ``optimizer``, else a ValueError saying what does not.

    The param groups must have the same settings, of the same kinds, over the same parameters;
    each parameter's state the keys, shapes and dtypes that one step of the same optimizer on
    parameters of the same shapes leaves (a throwaway copy on the CPU takes that step).
    """
    fresh_groups = optimizer.state_dict()["param_groups"]
    groups = state.get("param_groups")
    if not isinstance(groups, list) or len(groups) != len(fresh_groups):
        raise ValueError("its parameter groups do not match the model's")
    for saved, fresh in zip(groups, fresh_groups, strict=True):
        if (
            not isinstance(saved, dict)
            or set(saved) != set(fresh)
            or saved["params"] != fresh["params"]
        ):
            raise ValueError("its parameter groups do not match the model's")
        for key, value in fresh.items():
            if _kind(saved[key]) != _kind(value):
                raise ValueError(f"the optimizer setting {key!r} is {saved[key]!r}")
    expected = _state_after_one_step(optimizer)
    if not isinstance(state.get("state"), dict) or set(state["state"]) - set(expected):
        raise ValueError("its per-parameter state names parameters the model does not have")
    for pid, values in state["state"].items():
        want = expected[pid]
        if not isinstance(values, dict) or set(values) != set(want):
            raise ValueError(
                f"parameter {pid}'s state has {sorted(values)}, expected {sorted(want)}"
            )
        for key, value in values.items():
            if isinstance(want[key], torch.Tensor) != isinstance(value, torch.Tensor) or (
                isinstance(value, torch.Tensor)
                and (value.shape != want[key].shape or value.dtype != want[key].dtype)
            ):
                raise ValueError(f"parameter {pid}'s {key} does not fit the model")


def _state_after_one_step(optimizer: torch.optim.Optimizer) -> dict[int, dict]:
    groups = [
        {**{k: v for k, v in g.items() if k != "params"},
         "params": [torch.zeros(p.shape, dtype=p.dtype, requires_grad=True) for p in g["params"]]}
        for g in optimizer.param_groups
    ]  # fmt: skip
    copy = type(optimizer)(groups)
    for group in copy.param_groups:
        for p in group["params"]:
            p.grad = torch.zeros_like(p)
    copy.step()
    return copy.state_dict()["state"]


def check_history(history) -> list[dict]:
    """The trainer's history from a checkpoint: one row per epoch, numbered from 1, of numbers."""
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise ValueError("its history is not a list of rows")
    for epoch, row in enumerate(history, 1):
        if row.get("epoch") != epoch or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in row.values()
        ):
            raise ValueError(f"its history's row {epoch} is not epoch {epoch}'s numbers")
    return list(history)
