"""A Keras-style table of a model's layers, output shapes and parameter counts."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from autoencode.models.autoencoder import Autoencoder


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    params: int


def layer_rows(model: Autoencoder) -> list[LayerRow]:
    """One row per leaf layer, in the order a forward pass then a decode call them."""
    rows: dict[nn.Module, LayerRow] = {}
    names = {m: n for n, m in model.named_modules()}

    def record(module, _inputs, output):
        if module not in rows and isinstance(output, torch.Tensor):
            kind = type(module).__name__
            if activation := getattr(module, "activation", None):
                kind += f" ({activation})" if activation != "linear" else ""
            params = sum(p.numel() for p in module.parameters(recurse=False))
            rows[module] = LayerRow(names[module], kind, (None, *output.shape[1:]), params)

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(record) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            x = torch.zeros(1, *model.config.input_shape, device=_device(model))
            model.decode(model(x).codings)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return list(rows.values())


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def summary(model: Autoencoder) -> str:
    """The table as text, ending in the parameter totals (the seed's ``model.summary()``)."""
    rows = layer_rows(model)
    table = [("Layer", "Type", "Output shape", "Params")]
    table += [(r.name, r.kind, str(r.output_shape), f"{r.params:,}") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    rule = "-" * (sum(widths) + 6)

    def fmt(row):
        return "  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                          row[2].ljust(widths[2]), row[3].rjust(widths[3])])  # fmt: skip

    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lines = [
        f"Model: {type(model).__name__} ({model.config.description})",
        rule,
        fmt(table[0]),
        rule,
    ]
    lines += [fmt(row) for row in table[1:]]
    lines += [rule, f"Total params: {total:,}", f"Trainable params: {trainable:,}"]
    if any(len(r.output_shape) == 4 for r in rows):
        lines.append(
            "Shapes are (batch, channels, height, width); Keras writes (batch, height, width, channels)."
        )
    return "\n".join(lines)
