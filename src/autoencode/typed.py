"""Typed settings: dataclass fields checked against their annotations, so a config read from JSON
(someone else's run folder, say) is refused in one line rather than failing deep inside torch.

Written by hand rather than with a validation library: five field types (int, float, str, dict,
tuples of ints) cover every config, and the messages name the setting as the user wrote it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing

from autoencode.errors import ConfigError


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dotted(settings: dict, prefix: str = "") -> dict:
    """Nested settings as one level of dotted names: ``{"encoder.units": [100, 30]}``."""
    out = {}
    for key, value in settings.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        out |= dotted(value, name) if isinstance(value, dict) and value else {name: value}
    return out


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def coerce(value, annotation, name: str):
    """``value`` as the annotated type (lists become tuples), or a ConfigError naming ``name``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        annotation = next(a for a in args if a is not type(None))
        return coerce(value, annotation, name)
    if origin is tuple:
        item, what = (str, "strings") if args and args[0] is str else (int, "integers")
        fits = _is_int if item is int else (lambda v: isinstance(v, str))
        if not isinstance(value, (list, tuple)) or not all(fits(v) for v in value):
            raise ConfigError(f"{name} must be a list of {what}, got {short(value)}")
        if args and args[-1] is not Ellipsis and len(value) != len(args):
            raise ConfigError(f"{name} must be {len(args)} {what}, got {short(value)}")
        return tuple(value)
    if annotation is int and not _is_int(value):
        raise ConfigError(f"{name} must be an integer, got {short(value)}")
    if annotation is float:
        if not (
            (_is_int(value) and abs(value) < 2**53) or isinstance(value, float)
        ) or not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {short(value)}")
        return float(value)
    if annotation in (str, dict, bool) and not isinstance(value, annotation):
        kind = {str: "a string", dict: "a JSON object", bool: "true or false"}[annotation]
        raise ConfigError(f"{name} must be {kind}, got {short(value)}")
    return value


def check_fields(config) -> None:
    """Check (and normalise: lists to tuples) every field of a dataclass ``config`` in place."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value = coerce(getattr(config, field.name), hints[field.name], field.name)
        object.__setattr__(config, field.name, value)


def from_dict(cls, data, what: str):
    """``cls(**data)`` for a dataclass, with unknown or mistyped fields as ConfigErrors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a JSON object, got {short(data)}")
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    if unknown := set(data) - names:
        shown = sorted(n if n.isprintable() else repr(n) for n in map(str, unknown))  # one line
        raise ConfigError(f"unknown {what} setting(s): {', '.join(shown)}")
    return cls(**data)
