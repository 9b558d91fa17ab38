"""The test run itself as the selection step: pytest starts with our plugin
(`standalone/fetch_test_models_selection.py`), collects once, reports its items and waits on a
pipe while the tool fetches their models; then it runs the tests, or stops with the fetch's
exit code. `collect.py` is the collection-only variant, for tasks that run no test; `spawn.py`
starts the process (and ends its process group).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..limits import COLLECT_TIMEOUT_S
from .collect import PLUGIN, Selection, collection_hung, plugin_environment, selection_from
from .spawn import HeldPytest, Launch, stop_group
from .standalone import fetch_test_models_xdist as handoff


class LiveRun:
    """One pytest process, paused after its collection until `go` or `stop`. `early`: a run
    started before the tool knew what it wants (`cli/launches.py`), taken when it is this very
    launch, else ended."""

    def __init__(self, python: Path, arguments: Sequence[str], folder: Path,
                 env: Mapping[str, str], param_names: Sequence[str],
                 timeout: float = COLLECT_TIMEOUT_S, early: HeldPytest | None = None) -> None:
        self.arguments = tuple(arguments)
        self.timeout = timeout
        child_env = plugin_environment(env, None, param_names)  # the output: `HeldPytest`'s
        self.launch = Launch.of([str(python), "-m", "pytest", *arguments, "-p", PLUGIN],
                                folder, child_env)
        if early is not None and early.launch == self.launch:
            self._held, self.adopted = early, True
        else:
            if early is not None:
                early.discard()
            self._held, self.adopted = HeldPytest(self.launch), False
        self.process = self._held.process
        self.started = self._held.started
        self._ready = self._held.ready
        self._output = self._held.output

    @property
    def stderr(self) -> bytearray:
        return self._held.stderr

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
            self._held.tee.join(timeout=5)
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
            os.write(self._held.go, f"{answer}\n".encode())

    def close(self) -> None:
        self._held.close()
