"""Start-up: what a command costs beyond importing what it cannot do without.

Alternates, in one run, `invoke --list` and `fetch-test-models --list` (the installed
command, when it is on PATH) with `python -c "import invoke"` (target <= 1.5x), and
`invoke models.list --root examples/llama.cpp` with `python -c "import invoke, pydantic"`
(target <= 2.0x: the scan needs its data types), and prints medians and ratios.
Usage: python bench/startup.py [--rounds N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INVOKE = [sys.executable, "-m", "invoke"]
PAIRS = [
    ("invoke --list", [*INVOKE, "--list"], 'python -c "import invoke"',
     [sys.executable, "-c", "import invoke"], 1.5),
    ("invoke models.list --root examples/llama.cpp",
     [*INVOKE, "models.list", "--root", "examples/llama.cpp"],
     'python -c "import invoke, pydantic"',
     [sys.executable, "-c", "import invoke, pydantic; from pydantic import BaseModel"], 2.0),
]
COMMAND = shutil.which("fetch-test-models", path=str(Path(sys.executable).parent))
if COMMAND:
    PAIRS.insert(1, ("fetch-test-models --list", [COMMAND, "--list"],
                     'python -c "import invoke"', [sys.executable, "-c", "import invoke"], 1.5))


def seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    for name, command, base_name, baseline, target in PAIRS:
        seconds(command)  # warm the .pyc files and the file cache once
        ours, base = [], []
        for _ in range(rounds):
            ours.append(seconds(command))
            base.append(seconds(baseline))
        ratio = statistics.median(ours) / statistics.median(base)
        print(f"{name}: {statistics.median(ours):.3f} s vs {base_name}: "
              f"{statistics.median(base):.3f} s = {ratio:.2f}x (target <= {target}x)")


if __name__ == "__main__":
    main()
