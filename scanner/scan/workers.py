"""A large suite scanned on every core: contiguous runs of files in forked worker processes,
as flake8 does; the findings come back in file order, so the result is the one a scan in a
single process gives.

Parsing is most of a scan and holds the interpreter lock, so threads would not help. Only
`fork` starts a worker without importing the program again, and it is used only where it is
safe: not on macOS (its system libraries do not survive a fork) and only from a process that
runs no other thread. Anywhere else the scan stays in one process.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

from .batch import BatchScanner, FileFindings, ScanJob

#: Below this many files a pool costs more than it saves (docs/performance.md, "Constants and
#: what chose them").
MIN_FILES = 100
MAX_WORKERS = 8
RUNS_PER_WORKER = 4  # runs shorter than a worker's share, so an uneven one does not hold all up
PARENT_CHECK_S = 0.5


def worker_count(files: int) -> int:
    """How many worker processes a scan of `files` files should use; 0: none."""
    if files < MIN_FILES or not _can_fork():
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1
    return min(cores, MAX_WORKERS) if cores > 1 else 0


def _can_fork() -> bool:
    import multiprocessing  # here: most suites are scanned in-process, and the pool's imports
    # would weigh on every command's start-up

    return (sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


def scan_in_workers(job: ScanJob, workers: int) -> Iterator[FileFindings]:
    """Every file's findings, in the job's order. Runs a dead worker leaves (killed when out of
    memory, say) are scanned in this process instead."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    rels = list(job.paths)
    size = -(-len(rels) // (workers * RUNS_PER_WORKER))
    runs = [rels[start:start + size] for start in range(0, len(rels), size)]
    # Ctrl-C is the parent's to handle (it shuts the pool down): the workers, forked while it
    # is held back, are born with it blocked, so none can be hit before it could set anything
    # up; one pressed meanwhile reaches the parent when the mask is restored
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_start_worker, initargs=(job, os.getpid()))
        submitted = [(run, pool.submit(_scan_run, run)) for run in runs]  # forks at the first
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    here: BatchScanner | None = None
    try:
        for run, future in submitted:
            try:
                yield from future.result()
            except BrokenProcessPool:
                here = here or BatchScanner(job)
                yield from here.scan(run)
    finally:  # Ctrl-C or an error: the runs not started are dropped, not scanned
        pool.shutdown(wait=True, cancel_futures=True)


_scanner: BatchScanner | None = None  # a worker's own, with its own index of module names


def _start_worker(job: ScanJob, parent: int) -> None:
    global _scanner
    _scanner = BatchScanner(job)
    # a parent killed outright cannot shut the pool down, and an idle worker would wait for
    # work forever (it holds the queue's other end itself): it leaves when its parent does
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def _scan_run(rels: list[str]) -> list[FileFindings]:
    assert _scanner is not None, "set by the pool's initializer"
    return list(_scanner.scan(rels))
