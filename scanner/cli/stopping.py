"""How `test.server` ends, or pauses, with the signals it gets: pytest runs in a session of its
own (`selection/spawn.py`), which neither the terminal's signals nor a `kill PID` reach, so the
tool takes them for it. Ctrl-C is passed on by `server_tests._run_pytest`, where pytest is
awaited; SIGTERM and SIGHUP end the run (`ending_on_signals`); Ctrl-Z stops pytest with the tool
and `fg`/`bg` continue both (`following`).

Handlers are set only from the main thread (Python's rule), only over the default action (a
signal ignored, as under `nohup`, stays ignored), and put back afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from ..selection.spawn import signal_group, stop_group

#: What ends the run as a whole (`kill PID`, a closed terminal); Ctrl-C is handled apart.
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """SIGTERM or SIGHUP reached the tool: the run ends, pytest's process group with it (a
    BaseException, as KeyboardInterrupt is, so that no `except Exception` holds it up)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _ours(*signums: int) -> list[int]:
    """Of `signums`, those whose handler this process may set: at their default action."""
    if threading.current_thread() is not threading.main_thread():
        return []
    return [number for number in signums if signal.getsignal(number) == signal.SIG_DFL]


Handler = Callable[[int, FrameType | None], None]


@contextlib.contextmanager
def _handling(handler: Handler, *signums: int) -> Iterator[None]:
    """`handler` for those of `signums` that are ours (`_ours`), their default put back after."""
    ours = _ours(*signums)
    for number in ours:
        signal.signal(number, handler)
    try:
        yield
    finally:
        for number in ours:
            signal.signal(number, signal.SIG_DFL)


@contextlib.contextmanager
def ending_on_signals() -> Iterator[None]:
    """Each of ENDING_SIGNALS raises Terminated while the run lasts."""
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    with _handling(_raise, *ENDING_SIGNALS):
        yield


@contextlib.contextmanager
def following(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """While pytest runs: Ctrl-Z stops its process group too, and it continues when the tool
    does; whatever ends the wait (an error, a second Ctrl-C, SIGTERM) ends the group. The
    group gets SIGSTOP, not SIGTSTP: outside the terminal's session it would ignore that."""
    def _pause(signum: int, frame: FrameType | None) -> None:
        signal_group(process, signal.SIGSTOP)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # the tool stops here, as the terminal asked
        signal.signal(signal.SIGTSTP, _pause)  # continued: by `fg` or `bg`
        signal_group(process, signal.SIGCONT)

    try:
        with _handling(_pause, signal.SIGTSTP):
            yield
    finally:
        if process.poll() is None:
            stop_group(process)
