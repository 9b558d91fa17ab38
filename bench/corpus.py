"""Recall and precision of the scan on real suites, and its time against `ast.parse` alone.

Each suite's truth is `bench/corpus/NAME.txt`: the first line names the repository and commit
(`# github:ORG/REPO@COMMIT: ...`), then one model repo id per line, each checked by hand: every
repo id the scanned files spell out (string constants, Hub URLs) that a test loads, and the
legacy ids without organisation the tests load (`gpt2`); datasets, spaces, repos a test only
pushes to, lists or asks about, placeholders and paths are left out. Ids a test builds at run
time (f-strings) are not in it. The suites' code is not kept here: bring each checkout with
`git clone` (or the sdist's test tree) into `--suites DIR/NAME` at that commit.

The scan runs as `models.list` does with no option (the suite found as pytest finds it);
`found` counts distinct repos. Time: best of `--rounds` of the scan in one process, against
`ast.parse` of the files it scanned.
Usage: python bench/corpus.py --suites DIR [--rounds R] [NAME ...]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import sys
import time
import warnings
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.scan.config import ScanConfig
from scanner.scan.discover import for_project
from scanner.scan.files import find_test_files
from scanner.scan.suite import scan_suite

TRUTH = Path(__file__).resolve().parent / "corpus"


def truth_of(name: str) -> set[str]:
    lines = (TRUTH / f"{name}.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def parse_seconds(root: Path) -> tuple[int, float]:
    """(files, seconds) of reading and `ast.parse` of the files the scan reads."""
    config = for_project(root, ScanConfig())
    paths = find_test_files(root, config.tests, config.skipped_dirs).paths
    start = time.perf_counter()
    for rel in paths:
        with contextlib.suppress(SyntaxError, ValueError):
            ast.parse((root / rel).read_bytes())
    return len(paths), time.perf_counter() - start


class Row(NamedTuple):
    suite: str
    files: int
    truth: int
    found: int
    hits: int
    ratio: float
    missed: list[str]
    extra: list[str]


def measure(root: Path, name: str, rounds: int) -> Row:
    truth = truth_of(name)
    scan_s, parse_s = float("inf"), float("inf")
    found: set[str] = set()
    files = 0
    for _ in range(rounds):
        start = time.perf_counter()
        result = scan_suite(root, ScanConfig(), workers=0)
        scan_s = min(scan_s, time.perf_counter() - start)
        found = {model.repo for model in result.models()}
        files, seconds = parse_seconds(root)
        parse_s = min(parse_s, seconds)
    return Row(name, files, len(truth), len(found), len(found & truth),
               scan_s / parse_s if parse_s else 0.0, sorted(truth - found),
               sorted(found - truth))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suites", type=Path, required=True, help="folder of the checkouts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--verbose", action="store_true", help="list what each suite misses")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    names = args.names or sorted(p.stem for p in TRUTH.glob("*.txt"))
    warnings.simplefilter("ignore")
    rows = [measure(args.suites / name, name, args.rounds) for name in names]
    print(f"{'suite':26} {'files':>6} {'truth':>6} {'found':>6} {'recall':>7} {'precision':>9} "
          f"{'scan/parse':>10}")
    for row in rows:
        print(f"{row.suite:26} {row.files:>6} {row.truth:>6} {row.found:>6} "
              f"{row.hits / max(row.truth, 1):>7.1%} {row.hits / max(row.found, 1):>9.1%} "
              f"{row.ratio:>9.2f}x")
        if args.verbose:
            for repo in row.missed:
                print(f"    missed: {repo}")
            for repo in row.extra:
                print(f"    extra:  {repo}")
    truth, hits, found = (sum(r.truth for r in rows), sum(r.hits for r in rows),
                          sum(r.found for r in rows))
    print(f"pooled: recall {hits / truth:.1%}, precision {hits / found:.1%} "
          f"({hits} of {truth} truth, {found} found)")


if __name__ == "__main__":
    main()
