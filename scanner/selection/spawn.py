"""A held pytest run's process: pytest with the selection plugin, its two pipes and the file it
writes its selection into (`live.py` talks to it). Standard library only: the command's entry
point starts a run kept from an earlier one with it (`cli/launches.py`), before the rest of the
tool is imported.

pytest runs in a session of its own (`start_pytest`), with its xdist workers and the
llama-servers its tests start: the tool passes a signal on to that process group as a whole
(`signal_group`) and ends it with itself (`stop_group`), so that nothing it started outlives
it, whether the signal came from the terminal or to the tool's PID alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .standalone import fetch_test_models_selection as plugin

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


def stop_group(process: subprocess.Popen[bytes], grace: float = STOP_GRACE_SECONDS) -> None:
    """End pytest's process group: SIGTERM, then SIGKILL to whatever is left after the grace
    (llama-servers whose test process is gone included)."""
    signal_group(process, signal.SIGTERM)
    signal_group(process, signal.SIGCONT)  # stopped by Ctrl-Z, it could not end
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    signal_group(process, signal.SIGKILL)
    process.wait()


@dataclass(frozen=True)
class Launch:
    """What a held run starts as: the command, its folder, its environment but for the pipes
    and the output file each process gets its own of. Two equal launches start the same run."""

    command: tuple[str, ...]
    folder: str
    env: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, command: Sequence[str], folder: Path, env: Mapping[str, str]) -> Launch:
        return cls(tuple(command), str(folder), tuple(sorted(env.items())))


class HeldPytest:
    """A started `Launch`: the process, the pipe it says it collected on (`ready`), the one it
    waits on for "go" or "stop CODE" (`go`), the file it writes its selection into, and the
    end of what it wrote on stderr (copied to the terminal as it comes)."""

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self.started = time.monotonic()
        self._scratch = tempfile.TemporaryDirectory(prefix="ftm-run-")
        self.output = Path(self._scratch.name) / "selection.json"
        ready_read, ready_write = os.pipe()
        go_read, self.go = os.pipe()
        env = {**dict(launch.env), plugin.OUTPUT_VAR: str(self.output),
               plugin.READY_FD_VAR: str(ready_write), plugin.GO_FD_VAR: str(go_read)}
        try:
            self.process = start_pytest(launch.command, Path(launch.folder), env,
                                        pass_fds=(ready_write, go_read),
                                        stderr=subprocess.PIPE)
        except BaseException:
            for fd in (ready_read, self.go):
                os.close(fd)
            self._scratch.cleanup()
            raise
        finally:
            os.close(ready_write)
            os.close(go_read)
        self.ready = os.fdopen(ready_read, encoding="utf-8")
        self.stderr = bytearray()
        assert self.process.stderr is not None
        self.tee = threading.Thread(target=self._copy_stderr, args=(self.process.stderr,),
                                    daemon=True)
        self.tee.start()

    def _copy_stderr(self, stream: IO[bytes]) -> None:
        """pytest's stderr reaches the terminal as it comes; the last of it is kept."""
        for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
            os.write(2, chunk)
            self.stderr += chunk
            del self.stderr[:-STDERR_KEPT]

    def close(self) -> None:
        self.ready.close()
        os.close(self.go)
        self._scratch.cleanup()

    def discard(self) -> None:
        """Not the run wanted: ended, with all it started, and gone without a word (SIGTERM
        ends pytest before it prints anything more)."""
        stop_group(self.process, grace=1)
        self.close()
