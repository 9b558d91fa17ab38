"""Running calls that may block in the network on daemon threads, so that Ctrl-C ends the run
at once: a thread stuck in a read cannot hold the process open, and nothing new starts."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_on_daemon_threads(work: Callable[[T], R], items: Sequence[T], jobs: int) -> list[R]:
    """`[work(item) for item in items]`, `jobs` at a time; the first exception is raised."""
    todo = deque(enumerate(items))
    results: dict[int, R] = {}
    errors: list[BaseException] = []
    stop = threading.Event()
    done = threading.Event()
    remaining = [len(items)]
    lock = threading.Lock()

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
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

    if not items:
        return []
    for _ in range(min(jobs, len(items))):
        threading.Thread(target=worker, name="listing", daemon=True).start()
    try:
        while not done.wait(0.1) and not errors:  # short waits: Ctrl-C lands at once
            pass
    except KeyboardInterrupt:
        stop.set()
        raise
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(items))]
