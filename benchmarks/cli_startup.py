"""``autoencode --help`` against ``import torch``: the CLI's startup must not pay for torch.

Each command runs in a fresh interpreter (``python -m autoencode --help``, ``python -c "import
torch"``, and ``python -c pass`` for the interpreter's own start), alternating so that drifting load
hits all alike, after one warm-up run each; medians of the wall times are reported. The ratio
help / torch is the point: well under 1 while only the command that runs imports torch.
Writes benchmarks/results/cli_startup.json.

    python benchmarks/cli_startup.py --repeats 20
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMANDS = {
    "help": [sys.executable, "-m", "autoencode", "--help"],
    "torch": [sys.executable, "-c", "import torch"],
    "python": [sys.executable, "-c", "pass"],
}


def seconds(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def help_imports_torch() -> bool:
    """Whether ``--help`` imported torch at all, from ``-X importtime``'s list of imports."""
    cmd = [sys.executable, "-X", "importtime", *COMMANDS["help"][1:]]
    err = subprocess.run(cmd, check=True, capture_output=True, text=True).stderr
    return re.search(r"\|\s*torch\s*$", err, re.MULTILINE) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="runs of each; medians reported")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "cli_startup.json")
    args = parser.parse_args()

    runs = {name: [] for name in COMMANDS}
    for cmd in COMMANDS.values():  # warm-up: bytecode caches, the page cache
        seconds(cmd)
    for _ in range(args.repeats):
        for name, cmd in COMMANDS.items():
            runs[name].append(seconds(cmd))
    median = {name: statistics.median(times) for name, times in runs.items()}
    report = {
        "repeats": args.repeats,
        "python": platform.python_version(),
        "torch": version("torch"),
        "help_median_s": median["help"],
        "import_torch_median_s": median["torch"],
        "python_median_s": median["python"],
        "help_over_torch": median["help"] / median["torch"],
        "help_imports_torch": help_imports_torch(),
        "runs_s": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"--help {median['help']:.3f} s | import torch {median['torch']:.3f} s | "
          f"python {median['python']:.3f} s | help/torch {report['help_over_torch']:.2f} | "
          f"help imports torch: {report['help_imports_torch']} | median of {args.repeats} "
          f"→ {args.out.relative_to(HERE.parent)}")  # fmt: skip


if __name__ == "__main__":
    main()
