"""A suite that loads a Hugging Face model through transformers: `pytest` downloading for itself
against `pytest --fetch-models`, and the bytes each way brings, on the fake Hub.

The model (`bench/frameworks_suite.py`): four 200 MB safetensors shards and their index, a
tokenizer made with `tokenizers`, its configs, and the decoys of a real repo (a 400 MB
`pytorch_model.bin`, an `original/` copy, ONNX, GGUF); the shards are written once under
`--work`. The suite loads it as transformers does, without torch: `AutoTokenizer`,
`AutoConfig`, `GenerationConfig`, and the weights through transformers' own `cached_file` and
`get_checkpoint_shard_files`, read with `safetensors.numpy`.

Cases, alternated in one run (`--rounds` times; medians and ratios vs `pytest`), the Hub
capped at `--rate-mb` MB/s per connection and answering every request after `--delay-ms`:
1. cold: an empty cache: `pytest --fetch-models` <= 0.5x `pytest`;
2. warm: everything cached: <= 1.05x.
Every run is checked: exit 0 and 2 passed, else its row is INVALID.
Then the bytes table, per example suite (examples/offline-suite and the bench suite; the
repos their tests load on the Hub, unthrottled): the files and bytes `pytest` downloads by
itself on an empty cache vs what `fetch-test-models models.fetch` brings (every file of the
first among them, extra bytes <= 10 %), then `HF_HUB_OFFLINE=1 pytest` on the fetched cache
with the Hub stopped: it must pass.
Usage: python bench/frameworks.py [--quick] [--rounds N] [--work DIR] [--rate-mb MB]
                                  [--delay-ms MS]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from frameworks_suite import (
    OFFLINE_SUITE,
    REPO,
    bench_repo,
    pytest_command,
    serve,
    served,
    write_shards,
    write_suite,
)
from peers import MB, REPO_ROOT, fetch_env

from tests import hf_repos
from tests.fakehub import FakeHub
from tests.helpers import invoke_command

PASSED = re.compile(r"(\d+) passed")
CASES = {"pytest": (), "pytest --fetch-models": ("--fetch-models",)}


@dataclass
class Outcome:
    wall: float
    code: int
    passed: int


def run_pytest(suite: Path, hf_home: Path, hub: FakeHub, extra: tuple[str, ...] = (),
               offline: bool = False) -> Outcome:
    env = fetch_env(hub.url, hf_home) | ({"HF_HUB_OFFLINE": "1"} if offline else {})
    start = time.perf_counter()
    proc = subprocess.run(pytest_command(*extra), cwd=suite, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    wall = time.perf_counter() - start
    found = PASSED.findall(proc.stdout)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-20:]
        print(f"    exit {proc.returncode}:\n      " + "\n      ".join(tail), flush=True)
    return Outcome(wall, proc.returncode, int(found[-1]) if found else 0)


def alternate(label: str, suite: Path, hub: FakeHub, work: Path, rounds: int,
              warm: Path | None) -> dict[str, list[Outcome]]:
    """`rounds` alternated runs of each case, each in a fresh cache unless `warm` is given."""
    print(label, flush=True)
    runs: dict[str, list[Outcome]] = {case: [] for case in CASES}
    for _ in range(rounds):
        for case, extra in CASES.items():
            with tempfile.TemporaryDirectory(prefix="bench-fw-", dir=work) as tmp:
                runs[case].append(run_pytest(suite, warm or Path(tmp) / "hf", hub, extra))
        print("  " + ", ".join(f"{c} {r[-1].wall:.2f} s" for c, r in runs.items()), flush=True)
    return runs


@dataclass
class Bytes:
    suite: str
    baseline: tuple[int, int]  # files, bytes the tests download by themselves
    fetched: tuple[int, int]  # files, bytes models.fetch brings
    missed: int  # files the tests downloaded that the fetch did not bring
    offline: Outcome  # HF_HUB_OFFLINE=1 pytest with the Hub stopped


def bytes_of(name: str, suite: Path, hub: FakeHub, work: Path) -> Bytes:
    """The tests' own downloads on an empty cache vs the fetch's, then the tests offline with
    the Hub stopped."""
    with tempfile.TemporaryDirectory(prefix="bench-fw-bytes-", dir=work) as tmp:
        hub.reset_counts()
        baseline = run_pytest(suite, Path(tmp) / "baseline", hub)
        if baseline.code != 0:
            sys.exit(f"{name}: pytest fails on an empty cache (exit {baseline.code})")
        downloaded = served(hub, hub.requests)
        hub.reset_counts()
        fetch = subprocess.run(invoke_command("models.fetch"), cwd=suite, timeout=900,
                               env=fetch_env(hub.url, Path(tmp) / "fetched"),
                               capture_output=True, text=True, check=False)
        if fetch.returncode != 0:
            sys.exit(f"{name}: models.fetch exited {fetch.returncode}:\n{fetch.stdout[-2000:]}")
        fetched = served(hub, hub.requests)
        hub.stop()
        try:
            offline = run_pytest(suite, Path(tmp) / "fetched", hub, offline=True)
        finally:
            hub.start()
    return Bytes(name, (len(downloaded[0]), downloaded[1]), (len(fetched[0]), fetched[1]),
                 len(downloaded[0] - fetched[0]), offline)


# -- report -------------------------------------------------------------------------------------
def row(*cells: str, widths: tuple[int, ...] = (30, 10, 8, 8, 30)) -> None:
    print("  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=False)).rstrip())


def report(title: str, runs: dict[str, list[Outcome]], target: float) -> None:
    base = statistics.median(r.wall for r in runs["pytest"])
    for case, outcomes in runs.items():
        median = statistics.median(r.wall for r in outcomes)
        ratio = median / base
        bad = [r for r in outcomes if r.code != 0 or r.passed != 2]
        verdict = "" if case == "pytest" else f"<= {target}x: " + (
            "ok" if ratio <= target else "MISSED")
        if bad:
            verdict = f"INVALID ({len(bad)} of {len(outcomes)} runs: exit {bad[0].code}, " \
                      f"{bad[0].passed} passed)"
        row(f"{title}: {case}", f"{median:.2f} s", f"{ratio:.2f}x",
            f"{min(r.wall for r in outcomes):.2f}", verdict)


def size(files_bytes: tuple[int, int]) -> str:
    files, count = files_bytes
    shown = f"{count / MB:.1f} MB" if count >= MB else f"{count / 1000:.1f} kB"
    return f"{files} files, {shown}"


def report_bytes(rows: list[Bytes]) -> None:
    widths = (24, 20, 20, 8, 34)
    row("suite", "tests download", "models.fetch brings", "extra", "check", widths=widths)
    for b in rows:
        extra = (b.fetched[1] - b.baseline[1]) / b.baseline[1]
        checks = [f"{b.missed} of the tests' files not fetched" if b.missed else "",
                  "" if extra <= 0.10 else "extra > 10 %",
                  "" if b.offline.code == 0 else f"offline: exit {b.offline.code}"]
        verdict = "; ".join(c for c in checks if c) or (
            f"ok, {b.offline.passed} passed offline, Hub stopped")
        row(b.suite, size(b.baseline), size(b.fetched), f"{extra:+.1%}", verdict, widths=widths)
    row("examples/hf-suite", "not run: its tests need torch, diffusers, peft, "
        "sentence-transformers, datasets and launchers it does not define", widths=widths)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/fetch-test-models-frameworks"),
                        help="scratch folder: the shards (written once), the suite, the caches")
    parser.add_argument("--quick", action="store_true", help="1 round")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds per case (3)")
    parser.add_argument("--rate-mb", type=float, default=25.0, help="per-connection cap, MB/s")
    parser.add_argument("--delay-ms", type=float, default=100.0, help="every answer's delay")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1
    if args.work.resolve().is_relative_to(REPO_ROOT):
        parser.error(f"--work {args.work}: must be outside the repository")
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    work = args.work.resolve()
    write_shards(work / "shards")
    suite = write_suite(work / "suite")
    with FakeHub() as hub:
        serve(hub, REPO, bench_repo(work / "shards"))
        serve(hub, "example-org/tiny-causal", dict(hf_repos.transformers_repo()))
        hub.rate_limit_bytes_per_s = args.rate_mb * MB
        hub.response_delay_s = args.delay_ms / 1000
        warm = work / "warm"
        shutil.rmtree(warm, ignore_errors=True)
        print("filling the warm cache: pytest, then pytest --fetch-models", flush=True)
        for extra in CASES.values():
            filled = run_pytest(suite, warm, hub, extra)
            if filled.code != 0:
                sys.exit(f"the bench suite fails (exit {filled.code})")
        cold = alternate(f"cold, {args.rate_mb:g} MB/s per connection, {args.delay_ms:g} ms "
                         "per request", suite, hub, work, args.rounds, None)
        warm_runs = alternate("warm", suite, hub, work, args.rounds, warm)
        hub.rate_limit_bytes_per_s, hub.response_delay_s = None, 0.0
        print("bytes: each suite's own downloads vs the fetch's", flush=True)
        rows = [bytes_of("examples/offline-suite", OFFLINE_SUITE, hub, work),
                bytes_of("bench suite", suite, hub, work)]
    print()
    row("case", "median", "ratio", "best", "target")
    report("cold", cold, 0.5)
    report("warm", warm_runs, 1.05)
    print()
    report_bytes(rows)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
