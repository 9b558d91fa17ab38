"""The one way a fetch runs things in parallel: daemon threads and a wait that Ctrl-C ends.

Daemon threads, because the work blocks in the network: a thread stuck in a read (until its
timeout, minutes away) cannot hold the process open once Ctrl-C ends the run. The wait is in
short slices, so that Ctrl-C reaches the main thread at once. The listings use it through
`map_on_daemon_threads`, the downloads (`download.py`) through `DaemonThreads`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: How long one slice of a wait blocks before it looks again (and Ctrl-C can land).
_SLICE_S = 0.1


class DaemonThreads:
    """`count` daemon threads each running `work()`, counting themselves out as they end.

    `Thread.is_alive()` and `Thread.join()` are not used: a Ctrl-C that interrupts `join()`
    makes CPython before 3.13 mark the joined thread finished while it still runs
    (python/cpython#90882), and a run would exit before that thread had cleaned up.
    """

    def __init__(self, work: Callable[[], None], count: int, name: str) -> None:
        self._work, self._count, self._name = work, count, name
        self._lock = threading.Lock()
        self._running = 0
        self._all_ended = threading.Event()
        self._all_ended.set()

    def start(self) -> None:
        for _ in range(self._count):
            with self._lock:  # counted before it starts: it may end at once
                self._running += 1
                self._all_ended.clear()
            threading.Thread(target=self._run, name=self._name, daemon=True).start()

    def _run(self) -> None:
        try:
            self._work()
        finally:
            with self._lock:
                self._running -= 1
                if not self._running:
                    self._all_ended.set()

    @property
    def unfinished(self) -> int:
        """How many threads have not ended yet."""
        return self._running

    def wait(self, deadline: float | None = None,
             give_up: threading.Event | None = None) -> bool:
        """True once every thread has ended; False at `deadline` (`time.monotonic()`) or once
        `give_up` is set, leaving the threads that still run to end on their own."""
        while not self._all_ended.wait(_SLICE_S):
            if give_up is not None and give_up.is_set():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return True


def map_on_daemon_threads(work: Callable[[T], R], items: Sequence[T], jobs: int) -> list[R]:
    """`[work(item) for item in items]`, `jobs` at a time; the first exception is raised at
    once. On Ctrl-C (or an exception) no new item starts and none in flight is waited for."""
    todo = deque(enumerate(items))
    results: dict[int, R] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                index, item = todo.popleft()
            except IndexError:
                return
            try:
                results[index] = work(item)
            except BaseException as exc:  # handed to the caller below
                errors.append(exc)
                stop.set()

    threads = DaemonThreads(worker, min(jobs, len(items)), "listing")
    try:
        threads.start()
        threads.wait(give_up=stop)
    except KeyboardInterrupt:  # also while the threads start: those started take no new item
        stop.set()
        raise
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(items))]
