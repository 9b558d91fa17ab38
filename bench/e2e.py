"""End to end on llama.cpp's own server suite: `tests.sh FILE` against `fetch-test-models
test.server -- FILE` and against `PYTEST_ADDOPTS=--fetch-models tests.sh FILE`, with the real
llama-server built from the llama.cpp tree and stand-in models served by the fake Hub.

Measured at tests.sh's own defaults unless told otherwise: its 4 xdist workers and every test
of the file (`--workers`, `--deselect`, and a test this build cannot pass are printed beside
the figures). Cases, alternated in one run (`--rounds` times; medians and ratios vs `tests.sh`):
1. cold: an empty cache, the Hub capped at `--rate-mb` MB/s per connection: both <= 0.5x;
2. warm: everything cached, by tests.sh and then one `test.server` run (what it records and
   keeps is there, as after any earlier run): `test.server` and the plugin <= 1.0x, and
   `test.server` at most 0.3 s over `test.server --no-fetch` (the same run without a fetch);
3. warm on a Hub answering every request after 100 ms: `test.server` as typed every day
   <= 0.6x (the plugin, and `test.server` with a lock in the suite folder, are shown too);
4. `pytest --collect-only -q` of the whole suite with the plugin installed but not enabled vs
   with it disabled (`-p no:scanner.cli.pytest_plugin`): <= 1.02x.
Every run is checked: exit code 0 and pytest's passed count equal to a plain run's; otherwise
its row is INVALID. The stand-ins (`bench/standins.py`, ~49 MB each) sit at the repos and file
names of the suite's `ServerPreset`s and `unit/test_basic.py`. Each run gets a fresh copy of
the suite folder (the suite writes into it), always at `--work`/run, as a checkout stays where
it is (what the tool keeps for its next run is keyed by the folder); `--work` also keeps the
suite's venv (its requirements plus this tool, `pip install -e`), the pip cache and the
stand-ins between runs. Nothing reaches the internet; the llama.cpp tree and the models are
never committed.
Usage: python bench/e2e.py --llama-cpp DIR [--quick] [--rounds N] [--work DIR] [--file FILE]
                           [--deselect NODEID] [--workers N] [--rate-mb MB] [--delay-ms MS]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_setup import Suite, prepare, serve_standins
from peers import MB

from tests.fakehub import FakeHub

SUITE = "tools/server/tests"
PASSED = re.compile(r"(\d+) passed")


@dataclass
class Outcome:
    wall: float
    code: int
    passed: int


def command(case: str, suite: Suite, tests: list[str]) -> tuple[list[str], dict[str, str]]:
    """(argv, extra environment) of a case, run from the root of a llama.cpp copy."""
    if case.startswith("tests.sh"):
        extra = {"PYTEST_ADDOPTS": "--fetch-models"} if "plugin" in case else {}
        return ["bash", f"{SUITE}/tests.sh", *tests], extra
    no_fetch = ["--no-fetch"] if case.endswith("--no-fetch") else []
    return [str(suite.bin / "fetch-test-models"), "test.server", *no_fetch, "--python",
            str(suite.bin / "python"), "--", *tests], {}


def test_args(suite: Suite, file: str, deselect: list[str]) -> tuple[list[str], list[str]]:
    """FILE, less what this build cannot pass: without the web UI (neither built nor
    downloaded, as offline builds are) `test_no_ui` gets 404 for `/`; and the settings that
    are not tests.sh's defaults, to print beside the figures."""
    cmake = suite.llama_cpp / "build" / "CMakeCache.txt"
    settings = cmake.read_text() if cmake.is_file() else ""
    other = [f"--deselect {node}" for node in deselect]
    if ("LLAMA_BUILD_UI:BOOL=OFF" in settings and "LLAMA_USE_PREBUILT_UI:BOOL=OFF" in settings
            and file == "unit/test_basic.py"):
        deselect = [*deselect, "unit/test_basic.py::test_no_ui"]
        other.append("test_no_ui left out (this build has no web UI)")
    if suite.workers:
        other.append(f"PYTEST_WORKERS={suite.workers} (tests.sh: 4)")
    return [file, *(arg for node in deselect for arg in ("--deselect", node))], other


def run_case(case: str, suite: Suite, hub: FakeHub, tests: list[str], cache: Path | None,
             lock: Path | None = None) -> Outcome:
    """One run in a fresh copy of the suite; `cache` None: a fresh, empty one. The copy is
    always at the same place, as a contributor's checkout is: what the tool keeps for the
    next run is keyed by the folder and the environment, which names it too (`HF_HOME`)."""
    import subprocess

    run = suite.work / "run"
    shutil.rmtree(run, ignore_errors=True)
    root = run / "llama.cpp"
    shutil.copytree(suite.llama_cpp / SUITE, root / SUITE,
                    ignore=shutil.ignore_patterns("tmp", ".pytest_cache", "__pycache__"))
    if lock is not None:
        shutil.copy(lock, root / SUITE / "models.lock")
    argv, extra = command(case, suite, tests)
    env = suite.env(hub.url, cache or run / "cache", run / "hf") | extra
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    wall = time.perf_counter() - start
    found = PASSED.findall(proc.stdout)
    outcome = Outcome(wall, proc.returncode, int(found[-1]) if found else 0)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-25:]
        print(f"    {case}: exit {proc.returncode}\n      " + "\n      ".join(tail), flush=True)
    return outcome


def alternate(label: str, cases: list[str], suite: Suite, hub: FakeHub, tests: list[str],
              rounds: int, warm_cache: Path | None, lock: Path | None = None,
              ) -> dict[str, list[Outcome]]:
    print(label, flush=True)
    runs: dict[str, list[Outcome]] = {case: [] for case in cases}
    for _ in range(rounds):
        for case in cases:
            locked = lock if case.endswith("(lock)") else None
            runs[case].append(run_case(case.removesuffix(" (lock)"), suite, hub, tests,
                                       warm_cache, locked))
        print("  " + ", ".join(f"{c} {r[-1].wall:.2f} s" for c, r in runs.items()), flush=True)
    return runs


def collect_only(suite: Suite, hub: FakeHub, rounds: int) -> dict[str, list[Outcome]]:
    """`pytest --collect-only -q` of the whole suite, plugin installed vs disabled."""
    import subprocess

    env = suite.env(hub.url, suite.work / "collect-cache", suite.work / "collect-hf")
    cases = {"plugin installed": [], "plugin disabled": ["-p", "no:scanner.cli.pytest_plugin"]}
    runs: dict[str, list[Outcome]] = {case: [] for case in cases}
    for _ in range(rounds):
        for case, extra in cases.items():
            start = time.perf_counter()
            proc = subprocess.run([str(suite.bin / "pytest"), "--collect-only", "-q", *extra],
                                  cwd=suite.llama_cpp / SUITE, env=env, capture_output=True,
                                  text=True, timeout=300, check=False)
            count = re.findall(r"(\d+) tests? collected", proc.stdout)
            runs[case].append(Outcome(time.perf_counter() - start, proc.returncode,
                                      int(count[-1]) if count else 0))
    return runs


# -- report -------------------------------------------------------------------------------------
def row(*cells: str) -> None:
    widths = (44, 10, 8, 8, 34)
    print("  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=False)).rstrip())


def report(title: str, runs: dict[str, list[Outcome]], baseline: str, expected: int,
           targets: dict[str, float]) -> None:
    base = statistics.median(r.wall for r in runs[baseline])
    for case, outcomes in runs.items():
        median = statistics.median(r.wall for r in outcomes)
        bad = [r for r in outcomes if r.code != 0 or r.passed != expected]
        ratio = median / base
        target = targets.get(case)
        verdict = "" if target is None else f"<= {target}x: " + (
            "ok" if ratio <= target else "MISSED")
        if bad:
            verdict = f"INVALID ({len(bad)} of {len(outcomes)} runs failed: " + ", ".join(
                f"exit {r.code}, {r.passed} passed" for r in bad[:2]) + ")"
        row(f"{title}: {case}", f"{median:.2f} s", f"{ratio:.2f}x",
            f"{min(r.wall for r in outcomes):.2f}", verdict)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llama-cpp", type=Path, required=True,
                        help="llama.cpp tree with build/bin/llama-server and tools/server/tests")
    parser.add_argument("--work", type=Path, default=Path("/tmp/fetch-test-models-e2e"),
                        help="scratch folder: the suite's venv, pip cache, stand-ins, runs")
    parser.add_argument("--file", default="unit/test_basic.py", help="tests.sh's argument")
    parser.add_argument("--deselect", action="append", default=[], metavar="NODEID",
                        help="passed to pytest in every case (repeatable)")
    parser.add_argument("--quick", action="store_true", help="1 round")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds per case (5)")
    parser.add_argument("--workers", help="PYTEST_WORKERS (default: tests.sh's own, 4)")
    parser.add_argument("--rate-mb", type=float, default=25.0, help="per-connection cap, MB/s")
    parser.add_argument("--delay-ms", type=float, default=100.0, help="the distant Hub's delay")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    suite = prepare(args.llama_cpp.resolve(), args.work.resolve(), args.workers)
    tests, other = test_args(suite, args.file, args.deselect)
    print(f"tests: {' '.join(tests)}", flush=True)
    with FakeHub() as hub:
        serve_standins(hub, suite.models)
        hub.rate_limit_bytes_per_s = args.rate_mb * MB
        warm = suite.work / "warm-cache"
        shutil.rmtree(warm, ignore_errors=True)
        print("filling the warm cache with a plain tests.sh run", flush=True)
        first = run_case("tests.sh", suite, hub, tests, warm)
        if first.code != 0 or not first.passed:
            sys.exit(f"tests.sh {args.file} fails on the stand-ins (exit {first.code})")
        expected = first.passed
        lock = suite.write_lock(hub.url, warm, tests)
        print("one test.server run on it, as any earlier run leaves it (its record and scan)",
              flush=True)
        run_case("test.server", suite, hub, tests, warm)
        both = ["tests.sh", "test.server", "tests.sh + plugin"]
        cold = alternate(f"cold, {args.rate_mb:g} MB/s per connection", both, suite, hub,
                         tests, args.rounds, None)
        warm_runs = alternate("warm", [*both, "test.server --no-fetch"], suite, hub, tests,
                              args.rounds, warm)
        hub.response_delay_s = args.delay_ms / 1000
        distant = alternate(f"warm, every answer after {args.delay_ms:g} ms",
                            [*both, "test.server (lock)"], suite, hub, tests, args.rounds,
                            warm, lock)
        hub.response_delay_s = 0.0
        print("pytest --collect-only -q, the whole suite", flush=True)
        collected = collect_only(suite, hub, max(5, args.rounds * 2))
    print(f"\n{args.file}: {expected} passed in every valid run; settings: "
          f"{'; '.join(other) if other else 'tests.sh defaults (4 workers, every test)'}\n")
    row("case", "median", "ratio", "best", "target")
    report("cold", cold, "tests.sh", expected, {"test.server": 0.5, "tests.sh + plugin": 0.5})
    report("warm", warm_runs, "tests.sh", expected,
           {"test.server": 1.0, "tests.sh + plugin": 1.0})
    over = (statistics.median(r.wall for r in warm_runs["test.server"])
            - statistics.median(r.wall for r in warm_runs["test.server --no-fetch"]))
    row("warm: test.server over --no-fetch", f"{over:+.2f} s", "", "",
        "<= 0.3 s: " + ("ok" if over <= 0.3 else "MISSED"))
    report(f"{args.delay_ms:g} ms Hub, warm", distant, "tests.sh", expected, {"test.server": 0.6})
    report("collect-only", collected, "plugin disabled", collected["plugin disabled"][0].passed,
           {"plugin installed": 1.02})
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
