"""The tools `bench/fetch.py` runs side by side on the same files of one fake Hub, each into a
fresh cache: our `models.fetch`, llama.cpp's `llama download`, `hf download` and curl.

A peer that is not installed is reported as absent, never silently skipped.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scanner.cache import layout as hf_cache  # noqa: E402
from tests import helpers  # noqa: E402
from tests.fakehub import FakeHub, user_settings, write_harnesses  # noqa: E402
from tests.helpers import invoke_command  # noqa: E402

MB = 1_000_000


@dataclass(frozen=True)
class Files:
    """What one case downloads: a repo, its files, and how a test names them."""

    repo: str
    paths: tuple[str, ...]
    sizes: tuple[int, ...]
    reference: str  # `org/name:TAG` (llama.cpp resolves the files) or `org/name` + one path

    @property
    def size(self) -> int:
        return sum(self.sizes)

    def urls(self, endpoint: str) -> list[str]:
        return [f"{endpoint}/{self.repo}/resolve/main/{path}" for path in self.paths]


@dataclass
class Run:
    """One timed command; `problems` lists wrong files (a non-empty list invalidates it)."""

    wall: float
    maxrss_kb: int = 0
    cpu_s: float = 0.0
    problems: list[str] = field(default_factory=list)


#: Settings of the machine a bench runs on, not of a user's: with PYTHONDONTWRITEBYTECODE,
#: every run would compile the tool's modules (and pytest's rewritten test modules) from
#: source, where a user's Python keeps and reads their bytecode caches.
MACHINE_SETTINGS = frozenset({"PYTHONDONTWRITEBYTECODE"})


def fetch_env(endpoint: str, hf_home: Path) -> dict[str, str]:
    """The user's environment, pointed at the fake Hub with a fresh HF_HOME and cache (llama.cpp
    reads LLAMA_CACHE and MODEL_ENDPOINT; the others HF_HUB_CACHE and HF_ENDPOINT)."""
    (hf_home / "hub").mkdir(parents=True, exist_ok=True)
    write_harnesses(hf_home)
    dropped = set(user_settings(os.environ)) | MACHINE_SETTINGS
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(HF_ENDPOINT=endpoint, MODEL_ENDPOINT=endpoint + "/", HF_HOME=str(hf_home),
               HF_HUB_CACHE=str(hf_home / "hub"), LLAMA_CACHE=str(hf_home / "hub"),
               HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1",
               NO_PROXY="127.0.0.1,localhost")
    return env


def run_timed(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> Run:
    """Run under `/usr/bin/time` (peak RSS and CPU of the command itself); fail loudly."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as stats:
        full = ["/usr/bin/time", "-f", "%M %U %S", "-o", stats.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.run(full, env=env, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, check=False)
        wall = time.perf_counter() - start
        lines = stats.read().strip().splitlines()
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise RuntimeError(f"{shlex.join(cmd[:4])}... exited {proc.returncode}:\n"
                           + "\n".join(tail))
    rss, user, system = lines[-1].split() if lines else ("0", "0", "0")
    return Run(wall, int(rss), float(user) + float(system))


def write_suite(root: Path, files: Files) -> None:
    """A llama.cpp-shaped test file naming the case's model as the server tests do."""
    repo, _, tag = files.reference.partition(":")
    body = f'    server.model_hf_repo = "{files.reference}"\n'
    if not tag:
        body = (f'    server.model_hf_repo = "{repo}"\n'
                f'    server.model_hf_file = "{files.paths[0]}"\n')
    helpers.write_suite(root, f"def test_bench():\n{body}", "unit/test_bench.py")


def llama_binary(given: str | None) -> str | None:
    found = given or os.environ.get("LLAMA_BIN") or shutil.which("llama")
    return found if found and os.access(found, os.X_OK) else None


def hf_binary() -> str | None:
    """`hf` next to this interpreter (huggingface_hub's CLI), else on PATH."""
    beside = Path(sys.executable).with_name("hf")
    return str(beside) if os.access(beside, os.X_OK) else shutil.which("hf")


def peer_command(peer: str, files: Files, hub: FakeHub, work: Path, llama: str | None,
                 curl_parallel: int = 4, ours_args: tuple[str, ...] = ()) -> list[str]:
    """The command line of `peer` for the case (the environment comes from `fetch_env`)."""
    if peer == "ours":
        write_suite(work / "suite", files)
        return invoke_command("models.fetch", "--root", str(work / "suite"), *ours_args)
    if peer == "llama download":
        assert llama is not None
        repo, _, tag = files.reference.partition(":")
        pick = ["-hf", files.reference] if tag else ["-hf", repo, "-hff", files.paths[0]]
        return [llama, "download", *pick, "--no-mmproj"]
    if peer == "hf download":
        hf = hf_binary()
        assert hf is not None
        return [hf, "download", files.repo, *files.paths, "--max-workers", "8"]
    config = work / "urls.cfg"
    config.write_text("".join(f'url = "{url}"\noutput = "{work / f"{i}.bin"}"\n'
                              for i, url in enumerate(files.urls(hub.url))))
    return ["curl", "-sSf", "--parallel", "--parallel-max", str(curl_parallel), "-K", str(config)]


def timed_peer(peer: str, files: Files, hub: FakeHub, llama: str | None,
               curl_parallel: int = 4, ours_args: tuple[str, ...] = ()) -> Run:
    """One cold run of `peer` into a fresh cache, checked: every file byte-identical."""
    work = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    try:
        env = fetch_env(hub.url, work / "hf")
        cmd = peer_command(peer, files, hub, work, llama, curl_parallel, ours_args)
        run = run_timed(cmd, env, work, timeout=120 + files.size / (5 * MB))
        run.problems = check_files(peer, files, hub, work)
        return run
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def check_files(peer: str, files: Files, hub: FakeHub, work: Path) -> list[str]:
    """Each snapshot file must hash to the fake Hub's sha256 (curl's outputs: their size)."""
    problems = []
    cache = work / "hf" / "hub"
    for i, path in enumerate(files.paths):
        if peer == "curl":
            out = work / f"{i}.bin"
            if not out.exists() or out.stat().st_size != files.sizes[i]:
                problems.append(f"curl {path}: missing or truncated")
            continue
        snapshot = hf_cache.snapshot_path(cache, files.repo, hub.commit(files.repo), path)
        if not snapshot.is_file():
            problems.append(f"{peer} {path}: not in the snapshot")
        elif _sha256(snapshot) != hub.sha256(files.repo, path):
            problems.append(f"{peer} {path}: sha256 differs from the Hub's")
    return problems
