"""The package's shape: its import layering, its function lengths, a CLI parser that needs no torch."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "autoencode"
MAX_LINES = 40
EXCUSE = re.compile(r"#\s*long:\s*\S")  # `# long: <the reason>`

# `python -m importlinter.cli` would run nothing and exit 0 (the module has no __main__ guard).
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"

# Records who imports torch first: the failure then names the chain, not just the fact.
TORCH_PROBE = """
import contextlib, io, sys, traceback

class Watch:
    stack = None
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and Watch.stack is None:
            frames = traceback.extract_stack()[:-1]
            frames = [f for f in frames if not f.filename.startswith("<frozen")]
            Watch.stack = "".join(traceback.format_list(frames))
        return None

sys.meta_path.insert(0, Watch())
from autoencode.cli.main import build_parser
build_parser()
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    build_parser().parse_args(["--help"])
if Watch.stack is not None or "torch" in sys.modules:
    print(Watch.stack or "torch is in sys.modules")
    sys.exit(1)
"""


def test_import_contracts_hold():
    """The layers, forbidden imports and no-cycles rules in pyproject's [tool.importlinter]."""
    proc = subprocess.run([sys.executable, "-c", LINT_IMPORTS, "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, (
        f"lint-imports exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    )


def comment_lines(source: str) -> dict[int, str]:
    """Line number → the comment on that line, for every comment in ``source``."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.start[0]: t.string for t in tokens if t.type == tokenize.COMMENT}


def excused(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str], comments) -> bool:
    """A ``# long: <reason>`` on the signature's lines, or alone on one of the body's first 3."""
    header_end = node.body[0].lineno - 1  # back over the comments and blanks above the body
    while header_end > node.lineno and (
        not lines[header_end - 1].strip() or lines[header_end - 1].lstrip().startswith("#")
    ):
        header_end -= 1
    header_end = max(header_end, node.lineno)
    on_signature = any(
        EXCUSE.match(comments.get(n, "")) for n in range(node.lineno, header_end + 1)
    )
    on_own_line = any(
        lines[n - 1].lstrip().startswith("#") and EXCUSE.match(comments.get(n, ""))
        for n in range(header_end + 1, min(header_end + 3, len(lines)) + 1)
    )
    return on_signature or on_own_line


def long_functions() -> list[str]:
    """``path:line name length`` of every function over MAX_LINES lines without an excuse."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines, comments = source.splitlines(), comment_lines(source)
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = node.end_lineno - node.lineno + 1  # from `def`: decorators do not count
            if length > MAX_LINES and not excused(node, lines, comments):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} {length}")
    return sorted(offenders)


def test_no_function_is_over_40_lines_without_a_reason():
    offenders = long_functions()
    assert not offenders, (
        f"{len(offenders)} function(s) over {MAX_LINES} lines (file:line name length); split them, "
        "or give the reason in a `# long: ...` comment on the def line or in the body's first "
        "3 lines:\n" + "\n".join(offenders)
    )


def test_cli_parser_does_not_import_torch():
    """``autoencode --help`` must not pay for torch: only the command that runs imports it."""
    proc = subprocess.run([sys.executable, "-c", TORCH_PROBE], capture_output=True, text=True)
    assert proc.returncode == 0, (
        f"building the CLI parser imported torch:\n{proc.stdout}{proc.stderr}"
    )


def test_no_public_name_is_also_a_module_of_the_package():
    """``ae.NAME`` resolves lazily; a submodule of the same name, once imported anywhere, would
    stand in its place (``ae.explore`` became a module after ``autoencode explore`` ran)."""
    import pkgutil

    import autoencode

    modules = {m.name for m in pkgutil.iter_modules(autoencode.__path__)}
    assert not modules & set(autoencode._EXPORTS)
