"""Scan speed: our scan plus the `--json` report vs. the floor of only `ast.parse` on the same
generated files, each side in a fresh process (so peak RSS is its own), alternated, best of
`--rounds`. Our scan runs as the command runs it (in worker processes on a large suite: the
memory printed is then also that of the whole process tree), and again in one process.

Corpora (`--corpus`, default all): mixed, 2,000 files of ~500 lines mixing every recognised
shape with ordinary test code (target <= 1.5x); wide, 10,000 small files of 4 references each
(target <= 2.0x and peak RSS <= 150 MB); dense, 2,000 files of 175 references each (<= 1.5x).
Usage: python bench/scan.py [--corpus mixed|wide|dense|all] [--files N] [--rounds R]
"""

from __future__ import annotations

import argparse
import ast
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.output.console import json_text
from scanner.output.scan_report import scan_json
from scanner.scan.config import ScanConfig
from scanner.scan.suite import scan_suite

REPO = Path(__file__).resolve().parent.parent

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


WIDE = (
    "import pytest\nfrom utils import *\n\n\n"
    '@pytest.mark.parametrize("hf_repo,hf_file", [("org/w{m}", "w{m}.gguf"), '
    '("org/x{m}:Q8_0", None)])\n'
    "def test_p_{n}(hf_repo, hf_file):\n"
    "    server.model_hf_repo = hf_repo\n"
    "    res = server.make_request('GET', '/health')\n"
    "    assert res.status_code == 200\n\n\n"
    "def test_a_{n}():\n"
    "    server = ServerPreset.tiny()\n"
    '    server.model_hf_repo = "org/a{m}"\n'
    '    server.model_hf_file = "a{m}.gguf"\n'
    "    server.start()\n"
    "    assert server.make_request('GET', '/props').status_code == 200\n\n\n"
    "def test_k_{n}():\n"
    '    srv = ServerProcess(model_hf_repo="org/k{m}", n_ctx=512)\n'
    "    srv.start()\n"
    "    for k in range(3):\n"
    "        assert srv.make_request('GET', f'/slots/{{k}}').status_code in (200, 404)\n"
)


def generate_wide(folder: Path, files: int) -> int:
    """Many small files (~27 lines, 4 references each), as a large real suite is."""
    lines = 0
    for n in range(files):
        text = WIDE.format(n=n, m=n % 50)
        lines += text.count("\n")
        path = folder / "tools/server/tests/unit" / f"test_{n:05d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return lines


def generate_dense(folder: Path, files: int) -> int:
    """Files of 175 references each, the same 20 repo strings over and over."""
    body = "".join(f'    s{j}.model_hf_repo = "org/dense-{j % 20}"\n' for j in range(175))
    text = f"def test_dense():\n{body}"
    for n in range(files):
        path = folder / "tools/server/tests/unit" / f"test_{n:05d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return files * text.count("\n")


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


def parse_only(root: Path) -> float:
    """The floor: reading and parsing every file, nothing else."""
    start = time.perf_counter()
    for path in sorted((root / "tools/server/tests").rglob("*.py")):
        ast.parse(path.read_bytes())
    return time.perf_counter() - start


def our_scan(root: Path, workers: int | None = None) -> float:
    """Scan plus the `--json` text as printed, i.e. `models.list --json` without start-up;
    `workers` as `scan_suite` takes it (None: as the command decides, 0: one process)."""
    start = time.perf_counter()
    result = scan_suite(root, ScanConfig(), workers=workers)
    json_text(scan_json(result))
    elapsed = time.perf_counter() - start
    assert result.references, "the benchmark suite must contain references"
    return elapsed


def in_child(call: str, root: Path) -> tuple[float, float, float]:
    """(seconds, peak RSS in MB, peak PSS in MB of the process and its workers together) of
    one measurement in a fresh process, so peaks do not mix. PSS splits the pages a forked
    worker shares with its parent instead of counting them in both (Linux; else 0)."""
    code = (f"import resource, sys; sys.path.insert(0, {str(REPO)!r}); "
            f"from bench.scan import parse_only, our_scan; from pathlib import Path; "
            f"root = Path({str(root)!r}); t = {call}; "
            f"print(t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    peak_pss = 0
    while child.poll() is None:
        peak_pss = max(peak_pss, sum(_pss_kb(pid) for pid in _tree(child.pid)))
        time.sleep(0.05)  # sampling more often takes CPU from the measured run
    out = child.communicate()[0].split()
    assert child.returncode == 0, f"{call} failed"
    return float(out[0]), float(out[1]), peak_pss / 1024


def _tree(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid] + [grandchild for child in children for grandchild in _tree(int(child))]


def _pss_kb(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in rollup.splitlines()
                 if line.startswith("Pss:")), 0)


CORPORA = {
    "mixed": (generate, 2000, 1.5, None),
    "wide": (generate_wide, 10_000, 2.0, 150.0),
    "dense": (generate_dense, 2000, 1.5, None),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", choices=[*CORPORA, "all"], default="all")
    parser.add_argument("--files", type=int, help="override the corpus' file count")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for name in CORPORA if args.corpus == "all" else [args.corpus]:
        make, files, target, rss_target = CORPORA[name]
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            lines = make(root, args.files or files)
            floor, ours, alone, peaks, tree_peaks = [], [], [], [], []
            for _ in range(args.rounds):
                floor.append(in_child("parse_only(root)", root)[0])
                seconds, peak, tree_peak = in_child("our_scan(root)", root)
                ours.append(seconds)
                peaks.append(peak)
                tree_peaks.append(tree_peak)
                alone.append(in_child("our_scan(root, workers=0)", root)[0])
            ratio = min(ours) / min(floor)
            memory = f"peak RSS {max(peaks):.0f} MB"
            if max(tree_peaks):
                memory += f", with its workers (PSS) {max(tree_peaks):.0f} MB"
            if rss_target:
                memory += f" (target <= {rss_target:.0f} MB)"
            print(f"{name}: {args.files or files} files, {lines:,} lines: ast.parse "
                  f"{min(floor):.2f} s, our scan + JSON {min(ours):.2f} s = {ratio:.2f}x "
                  f"(target <= {target}x), {memory}; in one process {min(alone):.2f} s = "
                  f"{min(alone) / min(floor):.2f}x")


if __name__ == "__main__":
    main()
