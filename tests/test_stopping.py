"""`test.server` stopped from outside while its tests run: SIGTERM (or SIGHUP) ends pytest, its
xdist workers and the llama-servers their tests started, then the tool; SIGINT sent to the
tool's PID alone reaches the tests as a terminal's Ctrl-C does. llama-server is the stand-in of
tests/llama_standin.py, which records its PID when it starts and then stays up.

A collection that never ends (a conftest.py or test module that blocks on import) is stopped
after `test.collect_timeout` by every task that collects and by the plugin under xdist."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.fetch.partial import present_in
from tests.downloads import partials, wait_for
from tests.fakehub import CHUNK, FakeHub, Fault, GeneratedFile
from tests.helpers import invoke_command, write_suite
from tests.llama_standin import read_log, write_standin

#: A test that starts llama-server, says which processes run it, and waits for ever.
SERVER_TEST = """\
import json, os, subprocess, threading, types

def test_model():
    types.SimpleNamespace().model_hf_repo = "org/a"

def test_server():
    worker = bool(os.environ.get("PYTEST_XDIST_WORKER"))
    with open(os.environ["FTM_TEST_MARK"], "w") as mark:
        json.dump({"pytest": os.getppid() if worker else os.getpid(), "test": os.getpid()},
                  mark)
    subprocess.Popen([os.environ["LLAMA_SERVER_BIN_PATH"], "--hf-repo", "org/a"])
    threading.Event().wait()
"""


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


#: Starts a command in a process group of its own in this session, as a shell with job control
#: starts a job (a group with no parent in its session would ignore Ctrl-Z), and says its PID.
JOB = """\
import subprocess, sys
job = subprocess.Popen(sys.argv[2:], process_group=0)
open(sys.argv[1], "w").write(str(job.pid))
sys.exit(job.wait())
"""


def state(pid: int) -> str:
    """The process's state letter in /proc: T when stopped."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


class ServerRun:
    """`invoke test.server` on SERVER_TEST, as its own process group (or session, with `job`:
    a job of a shell, in a session of its own), and what it started."""

    def __init__(self, tmp_path: Path, *args: str, job: bool = False) -> None:
        root = write_suite(tmp_path / "p", SERVER_TEST)
        self.log, self.mark = tmp_path / "standin.jsonl", tmp_path / "mark.json"
        server = write_standin(tmp_path / "bin", "llama-server")
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env = dict(inherited, FTM_TEST_MARK=str(self.mark), STANDIN_LOG=str(self.log),
                   STANDIN_SLEEP="600", LLAMA_SERVER_BIN_PATH=str(server), TERM="dumb")
        self.tool_pid_file = tmp_path / "tool.pid"
        shell = [sys.executable, "-c", JOB, str(self.tool_pid_file)] if job else []
        self.tool = subprocess.Popen(
            [*shell, *invoke_command("test.server", "--root", str(root), *args, "--", "-p",
                                     "no:cacheprovider")],
            text=True, start_new_session=True, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self.pids: list[int] = []

    def __enter__(self) -> ServerRun:
        return self

    def started(self) -> dict[str, int]:
        """Once llama-server runs: the PIDs of pytest, of the test's process, of the server."""
        wait_for(lambda: read_log(self.log), "llama-server to start", timeout=120)
        pids = {**json.loads(self.mark.read_text()), "server": read_log(self.log)[0]["pid"]}
        self.pids = list(pids.values())
        return pids

    def ended(self) -> str:
        out, _ = self.tool.communicate(timeout=120)
        wait_for(lambda: not any(alive(pid) for pid in self.pids),
                 "pytest and what it started to end", timeout=60)
        return out

    def __exit__(self, *exc: object) -> None:
        for pid in self.pids:  # whatever a failed run left behind
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self.tool.poll() is None:
            os.killpg(self.tool.pid, signal.SIGKILL)
            self.tool.wait()


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--workers", "2"], ["--workers", "1", "--no-fetch"]],
                         ids=["fetch-xdist", "no-fetch"])
def test_sigterm_ends_pytest_its_workers_and_the_llama_servers_they_started(
    args: list[str], fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
) -> None:
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(1_000, 1)})
    with ServerRun(tmp_path, *args) as run:
        pids = run.started()
        run.tool.send_signal(signal.SIGTERM)
        out = run.ended()
    assert run.tool.returncode == 128 + signal.SIGTERM, out
    assert out.rstrip().endswith("terminated: SIGTERM ended the run, and pytest with every "
                                 "process it started"), out
    assert "Traceback" not in out
    assert len(set(pids.values())) == (3 if "2" in args else 2), "a worker ran the test"


@pytest.mark.slow
def test_sigint_to_the_tools_pid_alone_stops_the_tests_as_ctrl_c_does(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
) -> None:
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(1_000, 1)})
    with ServerRun(tmp_path, "--workers", "1") as run:
        run.started()
        run.tool.send_signal(signal.SIGINT)
        out = run.ended()
    assert run.tool.returncode == 130, out
    assert "KeyboardInterrupt" in out and "1 passed" in out, "pytest stopped, with its summary"
    assert out.rstrip().endswith("interrupted: the tests stopped (pytest's summary above)")


@pytest.mark.slow
def test_ctrl_z_stops_pytest_and_its_servers_with_the_tool_and_fg_continues_them(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
) -> None:
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(1_000, 1)})
    with ServerRun(tmp_path, "--workers", "1", job=True) as run:
        pids = run.started()
        tool = int(run.tool_pid_file.read_text())
        running = [tool, pids["pytest"], pids["server"]]
        os.kill(tool, signal.SIGTSTP)  # as a terminal's Ctrl-Z reaches the job
        wait_for(lambda: [state(pid) for pid in running] == ["T"] * 3, "all to stop")
        os.kill(tool, signal.SIGCONT)  # fg
        wait_for(lambda: "T" not in [state(pid) for pid in running], "all to go on")
        os.kill(tool, signal.SIGTERM)
        out = run.ended()
    assert run.tool.returncode == 128 + signal.SIGTERM, out


def test_sigterm_during_the_fetch_keeps_the_partial_and_the_next_run_resumes_it(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """SIGTERM while a model downloads: exit 143 with one line, pytest ended, the bytes that
    came kept; the next run asks only for the rest."""
    size = 3_000_000
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(size, 21)})
    held = Fault("hold", after=CHUNK)
    fake_hub.add_fault("a-Q4_K_M.gguf", held)
    root = write_suite(tmp_path / "p", "class Server:\n    model_hf_repo = None\n\n"
                       "def test_a():\n    Server().model_hf_repo = 'org/a:Q4_K_M'\n")
    env = dict({k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
               PYTEST_WORKERS="1")
    command = invoke_command("test.server", "--root", str(root), "--", "-q")
    tool = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    sha = fake_hub.sha256("org/a", "a-Q4_K_M.gguf")
    try:
        wait_for(lambda: [p for p in partials(hub_env) if present_in(p, size, sha)],
                 "the first bytes recorded")
        tool.send_signal(signal.SIGTERM)
        out, err = tool.communicate(timeout=120)
    finally:
        held.release.set()
    assert tool.returncode == 128 + signal.SIGTERM, out + err
    assert err.strip().endswith("terminated: SIGTERM ended the run, and pytest with every "
                                "process it started") and "Traceback" not in err
    assert "passed" not in out
    (partial,) = partials(hub_env)
    kept = present_in(partial, size, sha)
    assert kept >= CHUNK
    fake_hub.reset_counts()
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "1 passed" in again.stdout, again.stdout + again.stderr
    asked = [r.headers.get("range") for r in fake_hub.requests
             if r.kind == "resolve" and r.method == "GET"]
    assert asked == [f"bytes={kept}-{size - 1}"]

# -- a tool that is killed -------------------------------------------------------------------

#: Holds the collection until the test says go on (it kills the tool meanwhile).
WAITS_IN_COLLECTION = """\
import os, pathlib, time
def pytest_collection_modifyitems(items):
    signals = pathlib.Path(os.environ["FTM_TEST_SIGNALS"])
    (signals / "collecting").touch()
    while not (signals / "go-on").exists():
        time.sleep(0.02)
"""


def test_a_pytest_whose_tool_was_killed_ends_by_itself_saying_so(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """SIGKILL reaches the tool alone: its pytest, which waits for it, ends once collected,
    with one line (it was an INTERNALERROR traceback)."""
    root = write_suite(tmp_path / "p", "def test_a():\n    s.model_hf_repo = 'org/a'\n")
    (root / "tools/server/tests/conftest.py").write_text(WAITS_IN_COLLECTION)
    signals = tmp_path / "signals"
    signals.mkdir()
    tool = subprocess.Popen(invoke_command("test.server", "--root", str(root), "--", "-q"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, FTM_TEST_SIGNALS=str(signals),
                                     PYTEST_WORKERS="1"))
    try:
        wait_for(lambda: (signals / "collecting").exists(), "pytest to collect")
        tool.kill()
        tool.wait()
    finally:
        (signals / "go-on").touch()
    out, err = tool.communicate(timeout=120)  # pytest holds its stdout until it ends
    assert "fetch-test-models has ended: no test ran" in out, out + err
    assert "INTERNALERROR" not in out + err and "passed" not in out


# -- a collection that never ends --------------------------------------------------------------

#: Blocks for ever on import, once it said which process it is.
BLOCKS_ON_IMPORT = """\
import os, pathlib, threading
pathlib.Path(os.environ["FTM_TEST_MARK"], str(os.getpid())).touch()
threading.Event().wait()
"""
HUNG = ("pytest was stopped after collecting for 2 s: does a conftest.py or test module wait "
        "for something on import? (the limit is test.collect_timeout, or "
        "INVOKE_TEST_COLLECT_TIMEOUT)")


def hung_collectors(marks: Path) -> list[int]:
    return [int(mark.name) for mark in marks.iterdir()]


@pytest.fixture
def marks(tmp_path: Path) -> Iterator[Path]:
    """Where the processes that block on import say so; any a failed run left is ended."""
    folder = tmp_path / "marks"
    folder.mkdir()
    yield folder
    for pid in hung_collectors(folder):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("task", ["models.list", "test.server"])
def test_a_conftest_that_blocks_on_import_is_stopped_after_the_configured_timeout(
    task: str, fake_hub: FakeHub, hub_env: Path, tmp_path: Path, marks: Path,
) -> None:
    root = write_suite(tmp_path / "p", "def test_a():\n    s.model_hf_repo = 'org/a'\n")
    (root / "tools/server/tests/conftest.py").write_text(BLOCKS_ON_IMPORT)
    run = subprocess.run(invoke_command(task, "--root", str(root), "--", "-q"), text=True,
                         capture_output=True, timeout=120,
                         env=dict(os.environ, FTM_TEST_MARK=str(marks),
                                  INVOKE_TEST_COLLECT_TIMEOUT="2", PYTEST_WORKERS="2"))
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"could not collect the suite: {HUNG}" in run.stderr
    assert "Traceback" not in run.stderr
    wait_for(lambda: not any(alive(pid) for pid in hung_collectors(marks)),
             "the hung pytest to end")  # if it reached the import before the limit
    assert fake_hub.requests == []


def test_the_plugin_stops_xdist_workers_whose_collection_blocks_after_the_timeout(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, marks: Path,
) -> None:
    root = write_suite(tmp_path / "p", "def test_a():\n    s.model_hf_repo = 'org/a'\n")
    write_suite(root, BLOCKS_ON_IMPORT, "test_blocks.py")  # the controller imports no test
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--fetch-models", "-n", "2"],
        cwd=root / "tools/server/tests", text=True, capture_output=True, timeout=120,
        env=dict(inherited, FTM_TEST_MARK=str(marks), INVOKE_TEST_COLLECT_TIMEOUT="2"))
    out = run.stdout + run.stderr
    assert run.returncode == 2, out
    assert f"fetch-test-models: {HUNG}" in out
    wait_for(lambda: not any(alive(pid) for pid in hung_collectors(marks)),
             "the workers to end")  # those that reached the import before the limit
    assert fake_hub.requests == []


#: `test.server`, with a Ctrl-C sent to itself the instant it has let pytest run its tests: the
#: window between the two, which a loaded machine can stretch.
CTRL_C_AT_GO = """\
import os, signal, sys
from scanner.selection import live

let_go = live.LiveRun.go

def go(self, env=None):
    let_go(self, env)
    os.kill(os.getpid(), signal.SIGINT)

live.LiveRun.go = go
sys.argv[0] = "fetch-test-models"
from scanner.cli.program import program
program.run()
"""


@pytest.mark.slow
def test_a_ctrl_c_as_the_tests_are_let_go_stops_them_with_pytests_summary(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
) -> None:
    """It was taken for a Ctrl-C before the tests: pytest's group ended with no summary, and
    "stopped by Ctrl-C before the tests ran"."""
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(1_000, 1)})
    root = write_suite(tmp_path / "p", SERVER_TEST)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env = dict(inherited, FTM_TEST_MARK=str(tmp_path / "mark.json"), STANDIN_SLEEP="600",
               LLAMA_SERVER_BIN_PATH=str(write_standin(tmp_path / "bin", "llama-server")),
               STANDIN_LOG=str(tmp_path / "standin.jsonl"), TERM="dumb")
    run = subprocess.run([sys.executable, "-c", CTRL_C_AT_GO, "test.server", "--root",
                          str(root), "--workers", "1", "--", "-p", "no:cacheprovider"],
                         text=True, capture_output=True, env=env, timeout=120,
                         start_new_session=True)
    out = run.stdout + run.stderr
    assert run.returncode == 130, out
    assert "KeyboardInterrupt" in out, "pytest stopped, with its summary"
    assert out.rstrip().endswith("interrupted: the tests stopped (pytest's summary above)"), out
