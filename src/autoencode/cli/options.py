"""Argument types and options shared by several commands."""

from __future__ import annotations

import argparse
import json


def _number(convert, fits, what: str):
    """An argparse type: ``convert(text)`` where ``fits`` holds, else an error saying ``what``."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not fits(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
positive_float = _number(float, lambda v: v > 0, "a positive number")
non_negative_float = _number(float, lambda v: 0 <= v < float("inf"), "a number >= 0")
minutes = _number(float, lambda v: 0 < v < float("inf"), "a positive number of minutes")


def positive_ints(text: str) -> list[int]:
    """``100,300,1000``: a comma-separated list of positive integers."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas, got {text!r}"
        )
    return values


def key_value(text: str) -> tuple[str, object]:
    """``KEY=VALUE``; VALUE as JSON where it parses, ``a,b`` as a list, else a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    if "," in raw:
        return key, [_scalar(part) for part in raw.split(",") if part]
    return key, _scalar(raw)


def _scalar(raw: str):
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None,
                        help="dataset name (fashion-mnist), a .npz/.npy file, an image folder or "
                             "prepared data (autoencode prepare) "
                             "(default: the run's own, or fashion-mnist)")  # fmt: skip
    parser.add_argument("--data-dir", default=None,
                        help="folder holding the Fashion-MNIST .gz files (else $AUTOENCODE_DATA, "
                             "the user cache, Debian's package, or a download)")  # fmt: skip


def add_device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="auto", help="auto (cuda if present), cpu, cuda, cuda:N"
    )
