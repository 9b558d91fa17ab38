"""Fetch speed and memory: `invoke models.fetch` side by side with llama.cpp's `llama download`,
`hf download` and curl on the same files of one fake Hub (tests/fakehub.py on 127.0.0.1).

Every run starts from a fresh cache and is checked afterwards (sha256 of every snapshot file;
curl's outputs by size); a fast-but-wrong run makes its row INVALID. Runs of the peers alternate,
`--rounds` times; the table shows medians. Cases and targets:

1. a split model, 8 x 50 MB parts (`org/name:Q4_K_M`), default options: unthrottled, ours
   <= 1.25x `llama download`'s time; at 25 MB/s per connection (a CDN-like cap) <= 1.1x;
2. one 300 MB file at 25 MB/s per connection: ours <= 0.25x one curl stream's time;
3. resume: our fetch of that file killed (SIGKILL) once its partial records 40 %, then run
   again: the rerun asks for at most 60 % of the file (the sum of its Range requests);
4. warm: a second run on the full cache asks for no file, `--offline` costs < 0.5 s more than
   `invoke --list`;
5. memory: peak RSS of every run of ours, and of one 1 GB file, < 200 MB.

Our time is the whole command (interpreter, Invoke, scan, listings, downloads, sha256 check).
`llama download` is taken from --llama-bin, $LLAMA_BIN or PATH; `hf` from this interpreter's
environment. The machine's cores are shared with the fake Hub: compare ratios from one run.
Usage: python bench/fetch.py [--quick] [--rounds N] [--rate-mb MB] [--mem-mb MB]
                             [--llama-bin PATH] [--connections N]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import (
    MB,
    Files,
    Run,
    fetch_env,
    hf_binary,
    llama_binary,
    run_timed,
    timed_peer,
    write_suite,
)

from scanner.cache import layout as hf_cache
from scanner.fetch.partial import present_in
from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import invoke_command

PEERS = ("ours", "llama download", "hf download", "curl")


def add_files(hub: FakeHub, repo: str, paths: list[str], size: int, seed: int,
              reference: str) -> Files:
    hub.add_repo(repo, {p: GeneratedFile(size, seed + i) for i, p in enumerate(paths)})
    for path in paths:
        hub.sha256(repo, path)  # computed now, not inside a timed request
    return Files(repo, tuple(paths), tuple(size for _ in paths), reference)


def compare(hub: FakeHub, files: Files, peers: list[str], rounds: int, rate: float | None,
            llama: str | None, curl_parallel: int, ours_args: tuple[str, ...],
            ) -> dict[str, list[Run]]:
    """`rounds` alternated cold runs of each peer, the Hub capped at `rate` per connection."""
    hub.rate_limit_bytes_per_s = rate
    runs: dict[str, list[Run]] = {peer: [] for peer in peers}
    try:
        for _ in range(rounds):
            for peer in peers:
                runs[peer].append(timed_peer(peer, files, hub, llama, curl_parallel, ours_args))
            print("  " + ", ".join(f"{p} {r[-1].wall:.2f} s" for p, r in runs.items()),
                  flush=True)
    finally:
        hub.rate_limit_bytes_per_s = None
    return runs


def resume_fraction(hub: FakeHub, files: Files, rate: float,
                    ours_args: tuple[str, ...]) -> float | None:
    """Kill our fetch once 40 % of the file is recorded; the rerun's requested bytes / size.
    None when the fetch ended before 40 % was recorded (nothing was measured)."""
    size, sha = files.size, hub.sha256(files.repo, files.paths[0])
    with tempfile.TemporaryDirectory(prefix="bench-resume-") as tmp:
        work = Path(tmp)
        write_suite(work / "suite", files)
        env = fetch_env(hub.url, work / "hf")
        blob = hf_cache.repo_folder(work / "hf" / "hub", files.repo) / "blobs" / sha
        partial = blob.with_name(blob.name + hf_cache.RESUMABLE_SUFFIX)
        cmd = invoke_command("models.fetch", "--root", str(work / "suite"), *ours_args)
        hub.rate_limit_bytes_per_s = rate
        killed = subprocess.Popen(cmd, env=env, cwd=work, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        while present_in(partial, size, sha) < 0.4 * size and killed.poll() is None:
            time.sleep(0.01)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        kept = present_in(partial, size, sha)
        hub.rate_limit_bytes_per_s = None
        if kept < 0.4 * size:
            print(f"  INVALID: the fetch ended with {kept / size:.0%} recorded, before the kill")
            return None
        hub.reset_counts()
        run_timed(cmd, env, work, timeout=300)
    asked = 0
    for request in hub.requests:
        if request.method == "GET" and request.kind == "resolve":
            spec = request.headers.get("range", f"bytes=0-{size - 1}")
            first, last = (int(n) for n in spec.removeprefix("bytes=").split("-"))
            asked += last - first + 1
    print(f"  killed with {kept / size:.0%} recorded; the rerun asked for {asked / size:.0%}")
    return asked / size


def warm_costs(hub: FakeHub, files: Files, repeats: int) -> tuple[float, int, float, float]:
    """(online s, file GETs, --offline s, `invoke --list` s) on a full cache, best of N."""
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        work = Path(tmp)
        write_suite(work / "suite", files)
        env = fetch_env(hub.url, work / "hf")
        cmd = invoke_command("models.fetch", "--root", str(work / "suite"))
        run_timed(cmd, env, work, 300)
        hub.reset_counts()
        online = min(run_timed(cmd, env, work, 60).wall for _ in range(repeats))
        gets = hub.count("GET", "resolve")
        offline = min(run_timed([*cmd, "--offline"], env, work, 60).wall for _ in range(repeats))
        listing = invoke_command("--list")
        startup = min(run_timed(listing, env, work, 60).wall for _ in range(repeats))
    return online, gets, offline, startup


# -- report -------------------------------------------------------------------------------------
def median_wall(runs: list[Run]) -> float:
    return statistics.median(r.wall for r in runs)


def row(*cells: str) -> None:
    widths = (32, 8, 15, 12, 8, 7, 12)
    print("  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=False)).rstrip())


def report_case(label: str, runs: dict[str, list[Run]], baseline: str, target: float) -> None:
    walls = {p: f"{median_wall(r):.2f} s" if r else "absent" for p, r in runs.items()}
    problems = [p for rs in runs.values() for r in rs for p in r.problems]
    if not runs.get(baseline):
        ratio, verdict = "-", f"not checked ({baseline} absent)"
    else:
        value = median_wall(runs["ours"]) / median_wall(runs[baseline])
        ratio = f"{value:.2f}x"
        verdict = "INVALID" if problems else ("ok" if value <= target else "MISSED")
    row(label, *(walls.get(p, "-") for p in PEERS), ratio, f"<= {target}x {baseline}: {verdict}")
    cpu = {p: f"{statistics.median(r.cpu_s for r in rs):.2f} s" for p, rs in runs.items() if rs}
    row("  CPU user+sys, median", *(cpu.get(p, "-") for p in PEERS))
    for problem in problems[:5]:
        print(f"    wrong: {problem}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 300 MB memory file")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds per case (3)")
    parser.add_argument("--rate-mb", type=float, default=25.0, help="per-connection cap, MB/s")
    parser.add_argument("--llama-bin", help="llama.cpp's `llama` (default: $LLAMA_BIN, PATH)")
    parser.add_argument("--mem-mb", type=float, default=1000.0, help="memory-case file, MB")
    parser.add_argument("--connections", type=int, help="passed to ours (default: its own)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.mem_mb = 1, 300.0
    return args


def main() -> None:
    args = parse_args()
    for tool in ("curl", "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed: apt-get install -y {Path(tool).name}")
    llama = llama_binary(args.llama_bin)
    ours_args = ("--connections", str(args.connections)) if args.connections else ()
    present = {"llama download": llama is not None, "hf download": hf_binary() is not None}
    peers = [p for p in PEERS if present.get(p, True)]
    absent = [p for p in PEERS if p not in peers]
    print(f"peers: {', '.join(peers)}" + (f" (not found: {', '.join(absent)})" if absent else ""))
    rate = args.rate_mb * MB
    started = time.perf_counter()
    with FakeHub() as hub:
        split = add_files(hub, "bench/split-GGUF", [
            f"m-Q4_K_M-{i:05d}-of-00008.gguf" for i in range(1, 9)], 50 * MB, 100,
            "bench/split-GGUF:Q4_K_M")
        single = add_files(hub, "bench/single-GGUF", ["one-Q4_K_M.gguf"], 300 * MB, 200,
                           "bench/single-GGUF")
        big = add_files(hub, "bench/big-GGUF", ["big-Q4_K_M.gguf"], int(args.mem_mb * MB), 300,
                        "bench/big-GGUF")
        print("split model, 8 x 50 MB, unthrottled")
        split_fast = compare(hub, split, peers, args.rounds, None, llama, 4, ours_args)
        print(f"split model, 8 x 50 MB, {args.rate_mb:g} MB/s per connection")
        split_slow = compare(hub, split, peers, args.rounds, rate, llama, 4, ours_args)
        print(f"one 300 MB file, {args.rate_mb:g} MB/s per connection")
        single_slow = compare(hub, single, peers, args.rounds, rate, llama, 1, ours_args)
        print("resume after SIGKILL at 40 %")
        fraction = resume_fraction(hub, single, rate, ours_args)
        print("warm and offline")
        online, gets, offline, startup = warm_costs(hub, split, 3)
        print(f"one {args.mem_mb:g} MB file, memory")
        memory = timed_peer("ours", big, hub, llama, ours_args=ours_args)
    print()
    row("case", *PEERS, "ratio", "target")
    report_case("split 8 x 50 MB, unthrottled", split_fast, "llama download", 1.25)
    report_case(f"split 8 x 50 MB, {args.rate_mb:g} MB/s/conn", split_slow, "llama download", 1.1)
    report_case(f"one 300 MB file, {args.rate_mb:g} MB/s/conn", single_slow, "curl", 0.25)
    if fraction is None:
        print("resume: INVALID (the fetch finished before 40 % was recorded)")
    else:
        print(f"resume: the rerun after a kill at 40 % asked for {fraction:.0%} of the file "
              f"(target <= 60 %: {'ok' if fraction <= 0.6 else 'MISSED'})")
    ours = [*split_fast["ours"], *split_slow["ours"], *single_slow["ours"], memory]
    peak = max(r.maxrss_kb for r in ours) / 1024
    print(f"memory: peak RSS of ours {peak:.0f} MB over every run, {memory.maxrss_kb / 1024:.0f} "
          f"MB for one {args.mem_mb:g} MB file in {memory.wall:.1f} s (target < 200 MB: "
          f"{'ok' if peak < 200 and not memory.problems else 'MISSED'})")
    print(f"warm: {online:.2f} s, {gets} file GETs; --offline {offline:.2f} s = start-up "
          f"{startup:.2f} s + {offline - startup:.2f} s (target < 0.5 s: "
          f"{'ok' if gets == 0 and offline - startup < 0.5 else 'MISSED'})")
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
