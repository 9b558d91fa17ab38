"""The one way a fetch runs things in parallel (`scanner/fetch/parallel.py`): listings `jobs` at
a time, in order, the first error raised at once, Ctrl-C ending the wait at once; and the
threads' count of who has not ended, which says how many downloads did not stop in time."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from scanner.fetch.parallel import DaemonThreads, map_on_daemon_threads
from tests.downloads import wait_for


def test_results_come_in_the_order_of_the_items_whatever_order_they_end_in() -> None:
    last_done = threading.Event()

    def work(item: int) -> int:
        if item == 0:
            assert last_done.wait(10)
        if item == 2:
            last_done.set()
        return item * 10

    assert map_on_daemon_threads(work, [0, 1, 2], jobs=3) == [0, 10, 20]
    assert map_on_daemon_threads(work, [], jobs=3) == []


def test_no_more_than_jobs_items_run_at_once() -> None:
    """Two items are held: a third is not started meanwhile (it is given half a second)."""
    started: list[int] = []
    release = threading.Event()
    results: list[list[int]] = []

    def work(item: int) -> int:
        started.append(item)
        assert release.wait(10)
        return item

    run = threading.Thread(target=lambda: results.append(
        map_on_daemon_threads(work, [0, 1, 2, 3], jobs=2)))
    run.start()
    try:
        wait_for(lambda: len(started) >= 2, "two items started")
        time.sleep(0.5)
        assert sorted(started) == [0, 1]
    finally:
        release.set()
        run.join(timeout=10)
    assert results == [[0, 1, 2, 3]] and sorted(started) == [0, 1, 2, 3]


def test_the_first_error_is_raised_without_waiting_for_the_items_in_flight() -> None:
    release = threading.Event()
    started: list[str] = []

    def work(item: str) -> str:
        started.append(item)
        if item == "stuck":
            assert release.wait(10)
        if item == "bad":
            raise ValueError(f"{item} failed")
        return item

    try:
        with pytest.raises(ValueError, match="bad failed"):
            map_on_daemon_threads(work, ["stuck", "bad", "next"], jobs=2)
        assert "next" not in started, "an item started after the error"
    finally:
        release.set()


def test_ctrl_c_ends_the_wait_at_once_and_no_new_item_starts() -> None:
    main = threading.get_ident()
    release = threading.Event()
    started: list[int] = []

    def work(item: int) -> int:
        started.append(item)
        if item == 0:
            signal.pthread_kill(main, signal.SIGINT)
            assert release.wait(10)
        return item

    # a shell starts a background job ignoring SIGINT: Ctrl-C is Python's here all the same
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            map_on_daemon_threads(work, [0, 1], jobs=1)
    finally:
        signal.signal(signal.SIGINT, previous)
        release.set()
    time.sleep(0.3)  # item 1 would start now if the worker went on
    assert started == [0]


def test_the_threads_count_who_has_not_ended_and_the_wait_gives_up_at_its_deadline() -> None:
    release = threading.Event()
    give_up = threading.Event()
    threads = DaemonThreads(lambda: assert_set(release), 2, "test")
    assert threads.wait() and threads.unfinished == 0  # none started: nothing to wait for
    threads.start()
    assert threads.unfinished == 2
    assert not threads.wait(deadline=time.monotonic() + 0.2)
    give_up.set()
    assert not threads.wait(give_up=give_up)
    assert threads.unfinished == 2
    release.set()
    assert threads.wait(deadline=time.monotonic() + 10) and threads.unfinished == 0


def assert_set(event: threading.Event) -> None:
    assert event.wait(10)


def test_a_thread_that_fails_is_counted_out_too() -> None:
    def fail() -> None:
        raise RuntimeError("worker failed")

    threads = DaemonThreads(fail, 1, "test")
    hook, threading.excepthook = threading.excepthook, lambda args: None
    try:
        threads.start()
        assert threads.wait(deadline=time.monotonic() + 10)
    finally:
        threading.excepthook = hook
    assert threads.unfinished == 0
