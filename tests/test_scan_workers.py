"""A large suite is scanned in worker processes: the result must be the one a single process
finds, in the same order, and workers are used only where forking is safe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scanner.models import HuggingFaceModel, ScanResult
from scanner.scan import workers as workers_module
from scanner.scan.config import ScanConfig
from scanner.scan.suite import scan_suite

REPO_ROOT = Path(__file__).resolve().parent.parent
SUITE = "tools/server/tests"

UTILS = '''
import os
MODEL = "org/from-utils"
ROWS = [("org/row-a", "a.gguf"), ("org/row-b", None)]

class ServerPreset:
    @staticmethod
    def tiny():
        server = ServerProcess()
        server.model_hf_repo = "org/tiny"
        server.model_hf_file = "tiny-Q8_0.gguf"
        return server
'''

TEST_FILE = '''
import pytest
from utils import *

@pytest.mark.parametrize("hf_repo,hf_file", ROWS)
def test_rows_{n}(hf_repo, hf_file):
    server.model_hf_repo = hf_repo

def test_constant_{n}():
    server.model_hf_repo = MODEL

def test_unreadable_{n}():
    server.model_hf_repo = f"org/{{name}}"

URL_{n} = "https://huggingface.co/org/url-{n}/resolve/abc{n}/m.gguf"
'''


def write_suite(root: Path, files: int) -> None:
    """`utils.py` sorts after the test files that import it, so most runs read it on demand."""
    suite = root / SUITE / "unit"
    suite.mkdir(parents=True)
    (root / SUITE / "utils.py").write_text(UTILS)
    for n in range(files):
        (suite / f"test_{n:03d}.py").write_text(TEST_FILE.format(n=n))
    (suite / "test_syntax.py").write_text("def broken(:\n")
    (suite / "test_nul.py").write_bytes(b"x = 1\n\0\n")


def as_rows(result: ScanResult) -> tuple[list[object], list[object], list[str], int]:
    refs = [(r.model.hf_repo, r.model.hf_file, r.model.revision, r.file, r.line, r.test, r.kind)
            for r in result.references]
    diags = [(d.file, d.line, d.severity, d.message, d.test, d.kind) for d in result.diagnostics]
    return refs, diags, sorted(m.hf_repo for m in result.denied), result.files_scanned


def test_workers_find_what_one_process_finds_in_the_same_order(tmp_path: Path) -> None:
    write_suite(tmp_path, 30)
    config = ScanConfig(deny=("org/row-b",), extra=(HuggingFaceModel(hf_repo="org/extra"),))
    alone = scan_suite(tmp_path, config, workers=0)
    shared = scan_suite(tmp_path, config, workers=2)
    assert as_rows(shared) == as_rows(alone)
    # what the comparison covers: names followed into utils.py from every run, URLs, the
    # extra model, the deny list, and diagnostics of both kinds
    repos = {r.model.hf_repo for r in shared.references}
    assert {"org/from-utils", "org/row-a", "org/row-b", "org/tiny", "org/url-29",
            "org/extra"} <= repos
    last = [r for r in shared.references if r.file.endswith("test_029.py")]
    assert {r.model.hf_repo for r in last} >= {"org/from-utils", "org/row-a", "org/url-29"}
    assert [m.hf_repo for m in shared.denied] == ["org/row-b"]
    assert sum("f-string" in d.message for d in shared.diagnostics) == 30
    assert {d.file.rsplit("/", 1)[1] for d in shared.diagnostics if d.severity == "error"} \
        == {"test_syntax.py", "test_nul.py"}


def test_the_example_suite_scans_the_same_in_workers() -> None:
    root = REPO_ROOT / "examples/llama.cpp"
    alone = scan_suite(root, ScanConfig(), workers=0)
    assert len(alone.references) > 20
    assert as_rows(scan_suite(root, ScanConfig(), workers=3)) == as_rows(alone)


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers_module.os, "sched_getaffinity", lambda pid: {0, 1},
                        raising=False)
    monkeypatch.setattr(workers_module.threading, "active_count", lambda: 1)


@pytest.mark.usefixtures("two_cores")
def test_a_large_suite_on_two_cores_gets_two_workers_a_small_one_none() -> None:
    assert workers_module.worker_count(workers_module.MIN_FILES) == 2
    assert workers_module.worker_count(workers_module.MIN_FILES - 1) == 0


@pytest.mark.usefixtures("two_cores")
def test_one_core_gets_no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers_module.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert workers_module.worker_count(10_000) == 0


@pytest.mark.usefixtures("two_cores")
def test_cores_are_counted_where_affinity_cannot_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(workers_module.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(workers_module.os, "cpu_count", lambda: 3)
    assert workers_module.worker_count(10_000) == 3
    monkeypatch.setattr(workers_module.os, "cpu_count", lambda: None)  # unknown: one core
    assert workers_module.worker_count(10_000) == 0


@pytest.mark.usefixtures("two_cores")
def test_macos_scans_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers_module.sys, "platform", "darwin")
    assert workers_module.worker_count(10_000) == 0


def test_a_process_running_threads_is_not_forked() -> None:
    """A fork copies locks other threads may hold: with a thread running, scan in-process."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert workers_module.worker_count(10_000) == 0
    finally:
        release.set()
        thread.join()


KILLED_MID_SCAN = """
import multiprocessing, os, signal, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from scanner.scan import suite
from scanner.scan.config import ScanConfig

def killed_after_the_first_file(files, *rest):
    next(iter(files))
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

suite._result = killed_after_the_first_file
suite.scan_suite(Path({root!r}), ScanConfig(), workers=2)
"""


def gone_or_exited(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # exited, waiting for init to reap it


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_leave_when_the_scan_is_killed(tmp_path: Path) -> None:
    """A parent killed outright (SIGKILL, an OOM kill, a CI timeout) leaves no idle worker
    behind waiting for work."""
    write_suite(tmp_path, 8)
    script = KILLED_MID_SCAN.format(repo=str(REPO_ROOT), root=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == -signal.SIGKILL, run.stderr
    pids = [int(pid) for pid in run.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 10 * workers_module.PARENT_CHECK_S
    while not all(gone_or_exited(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(gone_or_exited(pid) for pid in pids)


CTRL_C_MID_SCAN = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from scanner.scan import suite
from scanner.scan.config import ScanConfig

def ctrl_c_after_the_first_file(files, *rest):
    next(iter(files))
    os.killpg(0, signal.SIGINT)  # as a terminal sends it: to the whole process group
    signal.pause()

suite._result = ctrl_c_after_the_first_file
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job starts ignoring it
try:
    suite.scan_suite(Path({root!r}), ScanConfig(), workers=2)
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_stops_the_workers_without_a_traceback(tmp_path: Path) -> None:
    write_suite(tmp_path, 8)
    script = CTRL_C_MID_SCAN.format(repo=str(REPO_ROOT), root=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=30, start_new_session=True)
    assert run.returncode == 130
    assert "Traceback" not in run.stderr, run.stderr


SCAN_RUN = workers_module._scan_run


def dies_on_the_third_run(rels: list[str]) -> object:
    """In place of the workers' scan of a run (module level: the pool sends it by name)."""
    if any(rel.endswith("test_012.py") for rel in rels):
        os._exit(9)  # in the worker: as a kill would end it
    return SCAN_RUN(rels)


def test_a_worker_that_dies_leaves_its_files_to_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed mid-scan (out of memory, say): its runs and the rest are scanned in the
    main process, and the result is still whole."""
    write_suite(tmp_path, 30)
    monkeypatch.setattr(workers_module, "_scan_run", dies_on_the_third_run)
    alone = scan_suite(tmp_path, ScanConfig(), workers=0)
    assert as_rows(scan_suite(tmp_path, ScanConfig(), workers=2)) == as_rows(alone)
