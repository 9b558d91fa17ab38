"""Selection cost: our selection step vs. the suite's own `pytest --collect-only`, same arguments.

Times, alternating in one run, with this interpreter (it must have the suite's requirements):
1. baseline: `python -m pytest --collect-only -q ARGS` in the suite folder;
2. selection step: `scanner.selection.collect_tests` (the same collection, with our plugin) and
   the join with the static scan (`selection.needs`), as `models.list -- ARGS` runs them;
3. the whole command a user types: `python -m invoke -r <repo> models.list --json -- ARGS`
   (interpreter and Invoke start-up, static scan, collection, join, report).
Prints medians and the ratios to the baseline (target for 2: <= 1.6x).
Usage: python bench/selection.py [--root DIR] [--suite tools/server/tests] [--rounds N] [-- ARGS]
Default root: examples/server-suite; default ARGS: -m "not slow" (tests.sh's everyday run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.scan.config import ScanConfig
from scanner.scan.suite import scan_suite
from scanner.selection.collect import collect_tests
from scanner.selection.needs import narrow

REPO = Path(__file__).resolve().parent.parent


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    argv = sys.argv[1:]
    pytest_args = ["-m", "not slow"]
    if "--" in argv:
        pytest_args = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=REPO / "examples" / "server-suite")
    parser.add_argument("--suite", default="tools/server/tests")
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args(argv)
    root = options.root.resolve()
    folder = root / options.suite
    config = ScanConfig()
    names = (*config.repo_names, *config.file_names)
    env = dict(os.environ)

    def baseline() -> None:
        subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *pytest_args],
                       cwd=folder, env=env, check=True, capture_output=True)

    outcome: list[str] = []

    def selection_step() -> None:
        selection = collect_tests(folder, root, pytest_args, env, names)
        if selection.error:
            raise SystemExit(f"collection failed: {selection.error}")
        selected = narrow(scan_suite(root, config), selection, config)
        outcome[:] = [f"{len(selection.tests)} tests selected, {len(selected.scan.models())} "
                      f"of {selected.total_models} models"]

    def whole_command() -> None:
        subprocess.run([sys.executable, "-m", "invoke", "-r", str(REPO), "models.list",
                        "--root", str(root), "--json", "--", *pytest_args],
                       cwd=root, env=env, check=True, capture_output=True)

    runs: dict[str, list[float]] = {"baseline": [], "selection": [], "command": []}
    baseline()  # warm the file cache and .pyc files once, for every contender alike
    for _ in range(options.rounds):
        runs["baseline"].append(timed(baseline))
        runs["selection"].append(timed(selection_step))
        runs["command"].append(timed(whole_command))
    median = {name: statistics.median(times) for name, times in runs.items()}
    print(f"suite: {folder}  arguments: {' '.join(pytest_args)}  ({outcome[0]})")
    print(f"pytest --collect-only      {median['baseline']:.3f} s")
    print(f"selection step             {median['selection']:.3f} s  "
          f"{median['selection'] / median['baseline']:.2f}x  (target <= 1.6x)")
    print(f"models.list -- ARGS (all)  {median['command']:.3f} s  "
          f"{median['command'] / median['baseline']:.2f}x")


if __name__ == "__main__":
    main()
