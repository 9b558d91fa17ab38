"""Scan speed: our scan of a generated suite vs. the floor of only `ast.parse` on the same files.

Generates 2,000 test files (~1M lines) mixing every recognised shape with ordinary test code,
then times both in one run, alternating, and prints the ratio (target <= 1.5x).
Usage: python bench/scan.py [--files N] [--rounds R]
"""

from __future__ import annotations

import argparse
import ast
import gc
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.config import ScanConfig
from scanner.report import scan_json
from scanner.scan import scan_suite

SHAPES = [
    '@pytest.mark.parametrize("hf_repo,hf_file", [("org/m{i}", "m{i}.gguf"), '
    'pytest.param("org/p{i}:Q8_0", None, marks=pytest.mark.slow)])\n'
    "def test_param_{i}(hf_repo, hf_file):\n    server.model_hf_repo = hf_repo\n",
    "def test_assign_{i}():\n    server = ServerPreset.tiny()\n"
    '    server.model_hf_repo = "org/a{i}"\n    server.model_hf_file = "a{i}.gguf"\n',
    'def test_kw_{i}():\n    srv = ServerProcess(model_hf_repo="org/k{i}", n_ctx=512)\n',
    'URL_{i} = "https://huggingface.co/org/u{i}/resolve/main/u.gguf"\n',
]
FILLER = (
    "def test_plain_{i}_{j}():\n"
    "    res = server.make_request('POST', '/completion', data={{'prompt': 'x', 'n': {j}}})\n"
    "    assert res.status_code == 200\n"
    "    for k in range(3):\n"
    "        assert res.body['content'][k] in ('a', 'b', 'c'), f'bad {{k}}'\n"
    "    values = [x * 2 for x in range({j}) if x % 3]\n"
    "    assert sum(values) >= 0\n\n"
)


def generate(folder: Path, files: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    lines = 0
    for n in range(files):
        parts = ["import pytest\nfrom utils import *\n\n"]
        for j in range(60):
            parts.append(FILLER.format(i=n, j=j))
            if j % 12 == 0:
                parts.append(rng.choice(SHAPES).format(i=f"{n}_{j}") + "\n")
        text = "".join(parts)
        lines += text.count("\n")
        path = folder / "tools/server/tests/unit" / f"test_{n:04d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return lines


def parse_only(root: Path, collect: bool = True) -> float:
    """The floor; with `collect=False` the cyclic GC is paused as our scan pauses it."""
    if not collect:
        gc.disable()
    start = time.perf_counter()
    for path in sorted((root / "tools/server/tests").rglob("*.py")):
        ast.parse(path.read_bytes())
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed


def our_scan(root: Path) -> float:
    """Scan plus the `--json` document, i.e. `models.list --json` without start-up."""
    start = time.perf_counter()
    result = scan_suite(root, ScanConfig())
    json.dumps(scan_json(result))
    elapsed = time.perf_counter() - start
    assert result.references, "the benchmark suite must contain references"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lines = generate(root, args.files)
        print(f"{args.files} files, {lines:,} lines")
        floor, floor_nogc, ours = [], [], []
        for _ in range(args.rounds):
            floor.append(parse_only(root))
            floor_nogc.append(parse_only(root, collect=False))
            ours.append(our_scan(root))
        best_floor = min(min(floor), min(floor_nogc))
        best_ours = min(ours)
        print(f"ast.parse only          : {min(floor):6.2f} s (best of {args.rounds})")
        print(f"ast.parse only, GC off  : {min(floor_nogc):6.2f} s")
        print(f"our scan + JSON report  : {best_ours:6.2f} s")
        print(f"ratio to the best floor : {best_ours / best_floor:.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
