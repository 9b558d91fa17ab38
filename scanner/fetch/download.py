"""The downloads of a fetch: `jobs` files at a time on daemon threads, each checked against the
Hub's sha256 (git blob id for small files) before it counts as done; Ctrl-C stops them and
waits for their partial files to go."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from .. import cache as hf_cache
from ..hub import HubClient
from ..hub_errors import Cancelled, HubError
from .plan import FetchSettings, FileJob, FileStatus, check_content

#: How long Ctrl-C waits for downloads in flight to stop and delete their partial files.
CANCEL_GRACE_S = 3.0


class ProgressSink(Protocol):
    """What the downloads report to (the display implements it; thread-safe)."""

    def partials_removed(self, count: int, total_bytes: int) -> None: ...

    def file_started(self, label: str, size: int) -> tuple[Callable[[int], None], float]: ...

    def file_done(self, label: str, size: int, started: float, error: str | None) -> None: ...

    def file_cancelled(self, label: str) -> None: ...


class FetchInterrupted(KeyboardInterrupt):
    """Ctrl-C during the downloads, after they were stopped; the message says what is left."""


def download_all(jobs: list[FileJob], client: HubClient, settings: FetchSettings,
                 progress: ProgressSink) -> None:
    """Download every job marked `download`, `settings.jobs` at a time.

    A failed file never raises: its job records why. Ctrl-C cancels the downloads in flight
    (huggingface_hub deletes their partial files as they unwind) and raises `FetchInterrupted`.
    The workers are daemon threads so that one stuck in a read cannot hold the process open.
    """
    remove_stale_partials(jobs, settings, progress)
    todo = deque(job for job in jobs if job.status is FileStatus.DOWNLOAD)
    count = min(settings.jobs, len(todo))
    workers = [_Worker(todo, client, settings, progress) for _ in range(count)]
    try:
        for worker in workers:
            worker.start()
        _join(workers)
    except KeyboardInterrupt:
        raise _stop(jobs, workers, client) from None


class _Worker:
    """One daemon download thread that signals its own end.

    `Thread.is_alive()` cannot be trusted here: a Ctrl-C that interrupts `Thread.join()` makes
    CPython before 3.13 mark the joined thread finished while it still runs
    (python/cpython#90882), and the run would exit before that download removed its partial.
    """

    def __init__(self, todo: deque[FileJob], client: HubClient, settings: FetchSettings,
                 progress: ProgressSink) -> None:
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(todo, client, settings, progress),
                                        name="download", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self, todo: deque[FileJob], client: HubClient, settings: FetchSettings,
             progress: ProgressSink) -> None:
        try:
            _work(todo, client, settings, progress)
        finally:
            self.finished.set()


def remove_stale_partials(jobs: list[FileJob], settings: FetchSettings,
                          progress: ProgressSink) -> None:
    """Partial files of killed runs are never resumed by huggingface_hub: delete them."""
    sizes = [size for repo in sorted({job.repo for job in jobs})
             for size in hf_cache.remove_stale_partials(settings.cache, repo)]
    if sizes:
        progress.partials_removed(len(sizes), sum(sizes))


def _work(todo: deque[FileJob], client: HubClient, settings: FetchSettings,
          progress: ProgressSink) -> None:
    """One download thread: takes jobs until none is left or the run is cancelled."""
    while not client.cancelled:
        try:
            job = todo.popleft()
        except IndexError:
            return
        _download(job, client, settings, progress)


def _download(job: FileJob, client: HubClient, settings: FetchSettings,
              progress: ProgressSink) -> None:
    advance, started = progress.file_started(job.label, job.file.size)

    def received(n: int) -> None:
        job.received += n  # a restart takes its bytes back (n < 0)
        advance(n)

    try:
        path = client.download(job.repo, job.commit, job.file, received)
        problem = check_content(path, job.file)
        if problem:
            hf_cache.remove_cached_file(settings.cache, job.repo, job.commit, job.file)
            job.fail(f"{job.repo} {job.file.path}: {problem}")
        else:
            job.downloaded()
    except Cancelled:
        job.interrupt()
        progress.file_cancelled(job.label)
        return
    except HubError as error:
        job.fail(str(error))
    except OSError as error:
        job.fail(f"{job.label}: {error}")
    progress.file_done(job.label, job.file.size, started, job.error)


def _join(workers: list[_Worker], deadline: float | None = None) -> None:
    """Wait in short slices, so that Ctrl-C reaches the main thread at once."""
    for worker in workers:
        while not worker.finished.wait(0.1):
            if deadline is not None and time.monotonic() >= deadline:
                return


def _stop(jobs: list[FileJob], workers: list[_Worker],
          client: HubClient) -> FetchInterrupted:
    """Cancel the downloads, give them `CANCEL_GRACE_S` to clean up, say what is left."""
    client.cancel()
    _join(workers, time.monotonic() + CANCEL_GRACE_S)
    stopped = [job for job in jobs if job.status is FileStatus.DOWNLOAD or job.interrupted]
    for job in stopped:
        job.interrupt()
    done = sum(job.status is FileStatus.DOWNLOADED for job in jobs)
    stuck = sum(not worker.finished.is_set() for worker in workers)
    cleanup = ("partial files removed" if not stuck else
               f"{stuck} did not stop in time: the next run removes their partial files")
    return FetchInterrupted(f"{len(stopped)} file(s) not downloaded, {done} completed before "
                            f"Ctrl-C ({cleanup}); run models.fetch again to finish")
