"""The test run itself as the selection step: pytest starts with our plugin
(`standalone/fetch_test_models_selection.py`), collects once, reports its items and waits on a
pipe while the tool fetches their models; then it runs the tests, or stops with the fetch's
exit code. `collect.py` is the collection-only variant, for tasks that run no test.

pytest runs in a session of its own (`start_pytest`), with its xdist workers and the
llama-servers its tests start: the tool passes a signal on to that process group as a whole
(`signal_group`) and ends it with itself (`stop_group`), so that nothing it started outlives
it, whether the signal came from the terminal or to the tool's PID alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from ..limits import COLLECT_TIMEOUT_S
from .collect import PLUGIN, Selection, collection_hung, plugin_environment, selection_from
from .standalone import fetch_test_models_selection as plugin
from .standalone import fetch_test_models_xdist as handoff

#: How much of what pytest wrote on stderr is kept, to explain a run that could not collect.
STDERR_KEPT = 64 * 1024
#: How long pytest's process group has to end after SIGTERM before what is left gets SIGKILL.
STOP_GRACE_SECONDS = 10


def start_pytest(command: Sequence[str], folder: Path, env: Mapping[str, str],
                 **popen: Any) -> subprocess.Popen[bytes]:
    """pytest as the leader of a new session: its group holds every process it starts (a
    terminal's Ctrl-C reaches the tool alone, which passes it on), and it may still read the
    terminal (`--pdb`): a process outside the terminal's session is not stopped for reading."""
    return subprocess.Popen(list(command), cwd=folder, env=env, start_new_session=True,
                            **popen)


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """`signum` to pytest's process group: pytest, its workers, the servers they started."""
    with contextlib.suppress(ProcessLookupError):  # all of them have ended
        os.killpg(process.pid, signum)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """End pytest's process group: SIGTERM, then SIGKILL to whatever is left after the grace
    (llama-servers whose test process is gone included)."""
    signal_group(process, signal.SIGTERM)
    signal_group(process, signal.SIGCONT)  # stopped by Ctrl-Z, it could not end
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_SECONDS)
    signal_group(process, signal.SIGKILL)
    process.wait()


class LiveRun:
    """One pytest process, paused after its collection until `go` or `stop`."""

    def __init__(self, python: Path, arguments: Sequence[str], folder: Path,
                 env: Mapping[str, str], param_names: Sequence[str],
                 timeout: float = COLLECT_TIMEOUT_S) -> None:
        self.arguments = tuple(arguments)
        self.timeout = timeout
        self.started = time.monotonic()
        self._scratch = tempfile.TemporaryDirectory(prefix="ftm-run-")
        self._output = Path(self._scratch.name) / "selection.json"
        ready_read, ready_write = os.pipe()
        go_read, self._go = os.pipe()
        child_env = plugin_environment(env, self._output, param_names)
        child_env.update({plugin.READY_FD_VAR: str(ready_write), plugin.GO_FD_VAR: str(go_read)})
        self.process = start_pytest(
            [str(python), "-m", "pytest", *arguments, "-p", PLUGIN], folder, child_env,
            pass_fds=(ready_write, go_read), stderr=subprocess.PIPE)
        os.close(ready_write)
        os.close(go_read)
        self._ready = os.fdopen(ready_read, encoding="utf-8")
        self.stderr = bytearray()
        assert self.process.stderr is not None
        self._tee = threading.Thread(target=self._copy_stderr, args=(self.process.stderr,),
                                     daemon=True)
        self._tee.start()

    def selection(self, root: Path) -> Selection | None:
        """What the run collected, once it waits; None when it ended without collecting
        anything to run (a usage error, nothing selected: its exit code says which);
        a Selection with `error` when its collection failed, or outlasted the timeout (then
        the run is stopped, its xdist workers with it)."""
        readable, _, _ = select.select([self._ready], [], [], self.timeout)
        seconds = time.monotonic() - self.started
        if not readable:
            stop_group(self.process)
            return Selection(arguments=self.arguments, seconds=seconds,
                             error=collection_hung(self.timeout))
        line = self._ready.readline()
        if not line:
            self.process.wait()
            self._tee.join(timeout=5)
            if self.process.returncode in (0, 5):  # passed without tests, or none collected
                return None
            said = self.stderr.decode(errors="replace")
            return Selection(arguments=self.arguments, seconds=seconds, output=said,
                             error=f"pytest exited with code {self.process.returncode} before "
                                   "its tests ran (its output is above)")
        message = json.loads(line)
        if "failed" in message:
            return Selection(arguments=self.arguments, seconds=seconds, output=message["failed"],
                             error="pytest could not collect every test (its errors are above)")
        document = json.loads(self._output.read_text(encoding="utf-8"))
        return selection_from(document, root, self.arguments, seconds)

    def go(self, env: Mapping[str, str] | None = None) -> None:
        """Run the tests, with `env` added to the environment of every test process."""
        handoff.add_env(str(self._output), env or {})
        self._answer("go")

    def stop(self, code: int) -> None:
        self._answer(f"stop {code}")

    def _answer(self, answer: str) -> None:
        with contextlib.suppress(BrokenPipeError):  # it ended meanwhile (Ctrl-C)
            os.write(self._go, f"{answer}\n".encode())

    def _copy_stderr(self, stream: IO[bytes]) -> None:
        """pytest's stderr reaches the terminal as it comes; the last of it is kept."""
        for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
            os.write(2, chunk)
            self.stderr += chunk
            del self.stderr[:-STDERR_KEPT]

    def close(self) -> None:
        self._ready.close()
        os.close(self._go)
        self._scratch.cleanup()
