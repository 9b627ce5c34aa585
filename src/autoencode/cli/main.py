"""``autoencode``: the entry point. Torch is imported only by the command that runs."""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from autoencode import __version__
from autoencode.errors import AutoencodeError

COMMANDS = [
    "prepare", "train", "summary", "reconstruct", "fit-sampler", "generate", "interpolate",
    "embed", "map", "explore", "search", "score", "evaluate", "pretrain", "export", "serve", "report",
    "compare",
    "tune", "zoo", "datasets", "demo",
]  # fmt: skip


class UsageError(AutoencodeError):
    """A command-line argument is missing or malformed."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (``autoencode train: error: ...``), not usage + error."""

    def error(self, message: str):
        raise UsageError(f"{self.prog.removeprefix('autoencode ')}: {message}")


def build_parser() -> Parser:
    parser = Parser(
        prog="autoencode",
        description="Learn compact codings of images with autoencoders, look inside them, use them.",
    )
    parser.add_argument("--version", action="version", version=f"autoencode {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        import_module(f"autoencode.cli.{name.replace('-', '_')}").add_parser(sub)
        command = sub.choices[name]
        command.set_defaults(flags=flag_names(command))
    return parser


def flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each argument's library name (its dest) to what the command line calls it."""
    return {a.dest: a.option_strings[-1] if a.option_strings else (a.metavar or a.dest)
            for a in parser._actions}  # fmt: skip


def worded(error: AutoencodeError, args) -> str:
    """A library error as the CLI says it: the parameter it names, as its flag."""
    return error.worded(getattr(args, "flags", {}).get(error.parameter))


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    args = None
    try:
        args = build_parser().parse_args(argv)
        if not hasattr(args, "run"):
            build_parser().print_help()
            return 2
        return args.run(args) or 0
    except AutoencodeError as e:
        print(f"autoencode: error: {worded(e, args)}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the system refused (permissions, a file where a folder goes, ...)
        where = f"{e.filename}: " if e.filename else ""
        print(f"autoencode: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("autoencode: interrupted", file=sys.stderr)
        return 130
