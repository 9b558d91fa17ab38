"""Fetch speed: `invoke models.fetch` (huggingface_hub) vs. `curl` on the same files, same Hub.

Everything runs against tests/fakehub.py on 127.0.0.1, and every run starts from a fresh cache:

1. cold, network-bound: the Hub throttled per connection (25 MB/s, like a CDN); ~1 GB in 20
   GGUF files over 5 repos; our fetch with `--jobs 4` vs. `curl --parallel --parallel-max 4`
   on the same resolve URLs, alternated for N rounds (target: ours >= 0.9x curl's MB/s);
2. cold, unthrottled loopback: the same comparison (target >= 0.5x; our sha256 check included);
3. warm: the same suite again on the full cache: wall time and the Hub requests by kind (no
   `resolve` GET expected); `--offline` wall time minus start-up (`invoke --list`), target
   < 0.5 s;
4. memory: peak RSS of our fetch of one 1 GB file, unthrottled (target < 200 MB).

Our wall time is the whole user-visible command (interpreter, Invoke, scan, listings,
downloads, checks). After each cold run every file is checked against the fake Hub's sha256
(and curl's by size): a fast-but-wrong run is reported as INVALID and its ratio does not count.
Usage: python bench/fetch.py [--quick] [--rounds N] [--files N] [--file-mb MB] [--rate-mb MB]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scanner import cache as hf_cache  # noqa: E402
from tests.fakehub import FakeHub, GeneratedFile, user_settings, write_harnesses  # noqa: E402

MB = 1_000_000
QUANTS = ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")
MIN_TIMEOUT_S = 60.0
WORST_MB_S = 10.0  # timeouts assume at least this much throughput


@dataclass(frozen=True)
class Target:
    """One file of the benchmark set, as the tests name it and as curl fetches it."""

    repo: str
    path: str
    size: int

    def url(self, endpoint: str) -> str:
        return f"{endpoint}/{self.repo}/resolve/main/{self.path}"


@dataclass
class Run:
    """One timed command; `problems` lists wrong files (a non-empty list invalidates it)."""

    wall: float
    maxrss_kb: int = 0
    cpu_s: float = 0.0
    problems: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    label: str
    total_bytes: int
    target: float
    ours: list[Run] = field(default_factory=list)
    curl: list[Run] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)  # our last run's, by kind


# -- set-up -------------------------------------------------------------------------------------
def ensure_tool(path: str, apt_package: str) -> None:
    """Install a missing tool with apt-get (allowed for curl and time)."""
    if shutil.which(path):
        return
    print(f"{path} not found: apt-get install -y {apt_package}", flush=True)
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", apt_package]):
        subprocess.run(cmd, check=True, timeout=300, stdout=subprocess.DEVNULL)


def add_files(
    hub: FakeHub, name: str, repos: int, files: int, size: int, seed: int
) -> list[Target]:
    """`files` distinct GGUF files (distinct seeds: equal blobs would be deduplicated)."""
    targets: dict[str, list[Target]] = {}
    for n in range(files):
        repo = f"bench/{name}{n % repos}"
        path = f"{name}{n % repos}-{n // repos}-{QUANTS[(n // repos) % len(QUANTS)]}.gguf"
        targets.setdefault(repo, []).append(Target(repo, path, size))
    for repo, items in targets.items():
        hub.add_repo(
            repo, {t.path: GeneratedFile(t.size, seed * 10_000 + i) for i, t in enumerate(items)}
        )
        for t in items:
            hub.sha256(t.repo, t.path)  # computed now, not inside a timed request
    return [t for items in targets.values() for t in items]


def write_suite(root: Path, targets: list[Target]) -> None:
    """A llama.cpp-shaped server test suite: one test per file, repo + file assignments."""
    lines = ["from utils import *\n\nserver = ServerPreset.tinyllama2()\n"]
    for n, t in enumerate(targets):
        lines.append(
            f"\ndef test_bench_{n}():\n    global server\n"
            f'    server.model_hf_repo = "{t.repo}"\n'
            f'    server.model_hf_file = "{t.path}"\n'
        )
    suite = root / "tools/server/tests/unit/test_bench.py"
    suite.parent.mkdir(parents=True, exist_ok=True)
    suite.write_text("".join(lines))


def fetch_env(endpoint: str, hf_home: Path) -> dict[str, str]:
    """The user's environment, pointed at the fake Hub with a fresh HF_HOME and cache."""
    (hf_home / "hub").mkdir(parents=True, exist_ok=True)
    write_harnesses(hf_home)
    dropped = set(user_settings(os.environ))
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        HF_ENDPOINT=endpoint,
        MODEL_ENDPOINT=endpoint,
        HF_HOME=str(hf_home),
        HF_HUB_CACHE=str(hf_home / "hub"),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def timeout_for(total_bytes: int) -> float:
    return MIN_TIMEOUT_S + total_bytes / (WORST_MB_S * MB)


# -- the commands -------------------------------------------------------------------------------
def run_timed(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> Run:
    """Run under `/usr/bin/time` (peak RSS and CPU of the command itself); fail loudly."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as stats:
        full = ["/usr/bin/time", "-f", "%M %U %S", "-o", stats.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.run(
            full, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
        wall = time.perf_counter() - start
        lines = stats.read().strip().splitlines()
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise RuntimeError(
            f"{shlex.join(cmd[:4])}... exited {proc.returncode}:\n" + "\n".join(tail)
        )
    rss, user, system = lines[-1].split() if lines else ("0", "0", "0")
    return Run(wall, int(rss), float(user) + float(system))


def invoke_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), *args]


def run_ours(suite: Path, env: dict[str, str], total_bytes: int, *extra: str) -> Run:
    cmd = invoke_cmd("models.fetch", "--root", str(suite), "--jobs", "4", *extra)
    return run_timed(cmd, env, suite, timeout_for(total_bytes))


def run_curl(endpoint: str, targets: list[Target], dest: Path) -> Run:
    """curl on the same resolve URLs, 4 transfers at a time, from one config file."""
    config = dest / "urls.cfg"
    entries = [
        f'url = "{t.url(endpoint)}"\noutput = "{dest / f"{i}.bin"}"\n'
        for i, t in enumerate(targets)
    ]
    config.write_text("".join(entries))
    cmd = ["curl", "-sSf", "--parallel", "--parallel-max", "4", "-K", str(config)]
    run = run_timed(
        cmd,
        {**os.environ, "NO_PROXY": "127.0.0.1"},
        dest,
        timeout_for(sum(t.size for t in targets)),
    )
    for i, t in enumerate(targets):
        got = (dest / f"{i}.bin").stat().st_size if (dest / f"{i}.bin").exists() else -1
        if got != t.size:
            run.problems.append(f"curl {t.repo}/{t.path}: {got} bytes, expected {t.size}")
    return run


# -- checks -------------------------------------------------------------------------------------
def verify_cache(hub: FakeHub, cache: Path, targets: list[Target]) -> list[str]:
    """Each snapshot file must hash to what the Hub serves at `main`."""
    problems = []
    for t in targets:
        snapshot = hf_cache.snapshot_path(cache, t.repo, hub.commit(t.repo), t.path)
        if not snapshot.is_file():
            problems.append(f"{t.repo}/{t.path}: not in the snapshot")
        elif hf_cache.sha256_of(snapshot) != hub.sha256(t.repo, t.path):
            problems.append(f"{t.repo}/{t.path}: sha256 differs from the Hub's")
    return problems


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- scenarios ----------------------------------------------------------------------------------
def cold_round(hub: FakeHub, suite: Path, targets: list[Target], comp: Comparison) -> None:
    """One of ours, then one of curl's, each into fresh folders that are removed after."""
    with scratch("bench-hf-") as hf_home:
        env = fetch_env(hub.url, hf_home)
        hub.reset_counts()
        run = run_ours(suite, env, comp.total_bytes)
        comp.requests = request_counts(hub)
        run.problems = verify_cache(hub, hf_home / "hub", targets)
        comp.ours.append(run)
    with scratch("bench-curl-") as dest:
        comp.curl.append(run_curl(hub.url, targets, dest))
    print(
        f"  {comp.label}: ours {mb_s(comp.total_bytes, comp.ours[-1]):7.1f} MB/s, "
        f"curl {mb_s(comp.total_bytes, comp.curl[-1]):7.1f} MB/s",
        flush=True,
    )


def cold(
    hub: FakeHub,
    suite: Path,
    targets: list[Target],
    comp: Comparison,
    rate: float | None,
    rounds: int,
) -> Comparison:
    """`rounds` alternated pairs with the Hub throttled to `rate` bytes/s per connection."""
    hub.rate_limit_bytes_per_s = rate
    try:
        for _ in range(rounds):
            cold_round(hub, suite, targets, comp)
    finally:
        hub.rate_limit_bytes_per_s = None
    return comp


def request_counts(hub: FakeHub) -> dict[str, int]:
    """The Hub's request log by kind, `resolve` split into HEAD and GET."""
    counts = {kind: hub.count(kind=kind) for kind in ("refs", "tree", "info")}
    counts["resolve HEAD"] = hub.count("HEAD", "resolve")
    counts["resolve GET"] = hub.count("GET", "resolve")
    counts["other"] = hub.count(kind="other")
    return counts


@dataclass
class Warm:
    online_s: float
    counts: dict[str, int]
    offline_s: float
    startup_s: float


def best_wall(runs: int, make: Callable[[], Run]) -> float:
    return min((make().wall for _ in range(runs)), default=float("inf"))


def warm(hub: FakeHub, suite: Path, targets: list[Target], repeats: int) -> Warm:
    """Fill a cache once, then time warm runs on it (online, counted; offline; start-up)."""
    total = sum(t.size for t in targets)
    with scratch("bench-hf-") as hf_home:
        env = fetch_env(hub.url, hf_home)
        run_ours(suite, env, total)
        hub.reset_counts()
        first = run_ours(suite, env, total).wall
        counts = request_counts(hub)
        online = min(first, best_wall(repeats - 1, lambda: run_ours(suite, env, total)))
        offline = best_wall(repeats, lambda: run_ours(suite, env, total, "--offline"))
        startup = best_wall(repeats, lambda: run_timed(invoke_cmd("--list"), env, suite, 60))
    return Warm(online, counts, offline, startup)


def memory(hub: FakeHub, size: int) -> Run:
    """Peak RSS of our fetch of one big file, unthrottled."""
    targets = add_files(hub, "big", 1, 1, size, seed=99)
    with scratch("bench-mem-") as work:
        suite = work / "suite"
        write_suite(suite, targets)
        env = fetch_env(hub.url, work / "hf")
        run = run_ours(suite, env, size)
        run.problems = verify_cache(hub, work / "hf" / "hub", targets)
    return run


# -- report -------------------------------------------------------------------------------------
def mb_s(total_bytes: int, run: Run) -> float:
    return total_bytes / MB / run.wall


def spread(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.1f} {unit} [{min(values):.0f}-{max(values):.0f}]"


def row(case: str, ours: str, curl: str, ratio: str, target: str, verdict: str) -> None:
    print(f"{case:<30} {ours:<24} {curl:<24} {ratio:>6}  {target:<14} {verdict}".rstrip())


def counts_text(counts: dict[str, int]) -> str:
    return " ".join(f"{kind}={n}" for kind, n in counts.items())


def print_comparison(comp: Comparison) -> None:
    ours = [mb_s(comp.total_bytes, r) for r in comp.ours]
    curl = [mb_s(comp.total_bytes, r) for r in comp.curl]
    problems = [p for r in comp.ours + comp.curl for p in r.problems]
    ratio = statistics.median(ours) / statistics.median(curl)
    verdict = "INVALID" if problems else ("ok" if ratio >= comp.target else "BELOW")
    target = f">= {comp.target:.1f}x"
    row(comp.label, spread(ours, "MB/s"), spread(curl, "MB/s"), f"{ratio:.2f}x", target, verdict)
    row("  CPU user+sys, median", cpu_median(comp.ours), cpu_median(comp.curl), "", "", "")
    row("  peak RSS, max", rss_max(comp.ours), rss_max(comp.curl), "", "", "")
    row("  Hub requests (ours)", counts_text(comp.requests), "", "", "", "")
    for problem in problems[:5]:
        print(f"    wrong: {problem}")


def cpu_median(runs: list[Run]) -> str:
    return f"{statistics.median(r.cpu_s for r in runs):.1f} s"


def rss_max(runs: list[Run]) -> str:
    return f"{max(r.maxrss_kb for r in runs) * 1024 / MB:.0f} MB"


def print_warm(w: Warm) -> None:
    gets = w.counts["resolve GET"]
    verdict = "ok" if not gets else f"BAD ({gets} resolve GETs)"
    row("warm online", f"{w.online_s:.2f} s", "", "", "no resolve GET", verdict)
    row("  Hub requests (ours)", counts_text(w.counts), "", "", "", "")
    beyond = w.offline_s - w.startup_s
    verdict = f"{'ok' if beyond < 0.5 else 'ABOVE'} ({beyond:+.2f} s beyond start-up)"
    row("warm --offline", f"{w.offline_s:.2f} s", "", "", "< 0.5 s", verdict)
    row("  start-up (invoke --list)", f"{w.startup_s:.2f} s", "", "", "", "")


def print_memory(mem: Run, size: int) -> None:
    rss_mb = mem.maxrss_kb * 1024 / MB
    state = "INVALID" if mem.problems else ("ok" if rss_mb < 200 else "ABOVE")
    row(
        f"memory, one {size / MB:.0f} MB file",
        f"peak RSS {rss_mb:.0f} MB",
        f"{mem.wall:.1f} s, {mb_s(size, mem):.0f} MB/s",
        "",
        "< 200 MB",
        state,
    )


def print_report(comps: list[Comparison], warm_result: Warm, mem: Run, mem_size: int) -> None:
    print()
    row("case", "ours (median [min-max])", "curl", "ratio", "target", "verdict")
    for comp in comps:
        print_comparison(comp)
    print_warm(warm_result)
    print_memory(mem, mem_size)


# -- main ---------------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="8 x 25 MB files, 1 round, 300 MB memory file"
    )
    parser.add_argument("--rounds", type=int, help="alternated rounds per cold case (5)")
    parser.add_argument("--files", type=int, help="files in the set (20)")
    parser.add_argument("--repos", type=int, default=5, help="repos the files spread over")
    parser.add_argument("--file-mb", type=float, help="size of each file in MB (50)")
    parser.add_argument(
        "--rate-mb",
        type=float,
        default=25.0,
        help="per-connection throttle of the network-bound case, MB/s",
    )
    parser.add_argument("--mem-mb", type=float, help="size of the memory-case file, MB (1000)")
    parser.add_argument("--repeats", type=int, default=3, help="warm timings: best of N")
    args = parser.parse_args()
    quick = {"rounds": 1, "files": 8, "file_mb": 25.0, "mem_mb": 300.0}
    full = {"rounds": 5, "files": 20, "file_mb": 50.0, "mem_mb": 1000.0}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main() -> None:
    args = parse_args()
    ensure_tool("curl", "curl")
    ensure_tool("/usr/bin/time", "time")
    started = time.perf_counter()
    with FakeHub() as hub, scratch("bench-suite-") as suite:
        targets = add_files(hub, "m", args.repos, args.files, int(args.file_mb * MB), seed=1)
        write_suite(suite, targets)
        total = sum(t.size for t in targets)
        print(
            f"{len(targets)} files x {args.file_mb:g} MB = {total / MB:.0f} MB in "
            f"{args.repos} repos; {args.rounds} alternated rounds per cold case",
            flush=True,
        )
        throttled = Comparison(f"cold, {args.rate_mb:g} MB/s per conn", total, target=0.9)
        unthrottled = Comparison("cold, unthrottled", total, target=0.5)
        comps = [
            cold(hub, suite, targets, throttled, args.rate_mb * MB, args.rounds),
            cold(hub, suite, targets, unthrottled, None, args.rounds),
        ]
        warm_result = warm(hub, suite, targets, args.repeats)
        mem_size = int(args.mem_mb * MB)
        mem = memory(hub, mem_size)
    print_report(comps, warm_result, mem, mem_size)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
