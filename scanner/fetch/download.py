"""The downloads of a fetch: `connections` workers over the files to fetch, at most `jobs` files
open at once; a large file is fetched as byte ranges by several workers (`transfer.py`). Ctrl-C
stops them, keeping each partial file for the next run to resume."""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable

from ..hub.client import HubClient
from ..hub.errors import Cancelled
from .jobs import FetchSettings, FileJob, FileStatus
from .parallel import DaemonThreads
from .partial import Segment, segment_count, segment_size
from .reporting import ProgressSink
from .transfer import FileTransfer

#: How long Ctrl-C waits for downloads in flight to stop and close their partial files.
CANCEL_GRACE_S = 3.0


class FetchInterrupted(KeyboardInterrupt):
    """Ctrl-C during the downloads, after they were stopped; the message says what is left."""


def download_all(jobs: list[FileJob], client: HubClient, settings: FetchSettings,
                 progress: ProgressSink) -> None:
    """Download every job marked `download`.

    A failed file never raises: its job records why. Ctrl-C cancels the downloads in flight and
    raises `FetchInterrupted`. The workers are daemon threads (`parallel.py` says why).
    """
    todo = [job for job in jobs if job.status is FileStatus.DOWNLOAD]
    queue = _WorkQueue(todo, client, settings, progress)
    ranges = sum(segment_count(job.file.size, segment_size(job.file.size, settings.connections))
                 for job in todo)  # a resumed partial may keep other ranges: an estimate
    workers = DaemonThreads(queue.work, min(settings.connections, ranges), "download")
    try:
        workers.start()
        workers.wait()
    except KeyboardInterrupt:
        raise _stop(jobs, workers, queue, client) from None


class _WorkQueue:
    """What a free worker does next: a segment of a file already open, else open the next file
    (at most `settings.jobs` at once, so that files complete one after another)."""

    def __init__(self, todo: list[FileJob], client: HubClient, settings: FetchSettings,
                 progress: ProgressSink) -> None:
        self.client, self.settings, self.progress = client, settings, progress
        self.files = deque(todo)
        self.open: list[FileTransfer] = []
        self._opening = 0
        self._changed = threading.Condition()

    def next(self) -> Callable[[], None] | None:
        """A free worker's next task: fetch a segment, or open a file. None when every file has
        ended (an idle worker waits while a file's other segments wait for the answer to its
        first range)."""
        with self._changed:
            while not self.client.cancelled:
                self.open = [transfer for transfer in self.open if not transfer.ended]
                for transfer in self.open:
                    segment = transfer.take()
                    if segment is not None:
                        return functools.partial(self._fetch, transfer, segment)
                if self.files and self._opening + len(self.open) < self.settings.jobs:
                    self._opening += 1
                    return functools.partial(self._open, self.files.popleft())
                if not self.files and not self._opening and not self.open:
                    return None
                self._changed.wait(0.05)
            return None

    def opened(self, transfer: FileTransfer | None) -> None:
        """A file was opened (`transfer`), or needs no fetching, or failed to open (None)."""
        with self._changed:
            self._opening -= 1
            if transfer is not None:
                self.open.append(transfer)
            self._changed.notify_all()

    def wake(self) -> None:
        """Segments may be taken now: a segment ended, or a file's first range answered."""
        with self._changed:
            self._changed.notify_all()

    def work(self) -> None:
        """One worker: open files and fetch segments until nothing is left or Ctrl-C."""
        while (task := self.next()) is not None:
            task()

    def _open(self, job: FileJob) -> None:
        started = None
        try:
            transfer = FileTransfer(job, self.client, self.settings.cache,
                                    self.settings.connections, self.progress, wake=self.wake)
            transfer.begin()
            started = None if transfer.ended else transfer
        except Cancelled:
            job.interrupt()
        finally:  # whatever happened, the other workers must not wait for this file
            self.opened(started)

    def _fetch(self, transfer: FileTransfer, segment: Segment) -> None:
        try:
            transfer.fetch(segment)
        finally:
            self.wake()


def _stop(jobs: list[FileJob], workers: DaemonThreads, queue: _WorkQueue,
          client: HubClient) -> FetchInterrupted:
    """Cancel the downloads, give them `CANCEL_GRACE_S` to close their partial files, say what
    is left."""
    client.cancel()
    workers.wait(deadline=time.monotonic() + CANCEL_GRACE_S)
    for transfer in queue.open:
        transfer.close()
    stopped = [job for job in jobs if job.status is FileStatus.DOWNLOAD or job.interrupted]
    for job in stopped:
        job.interrupt()
    done = sum(job.status is FileStatus.DOWNLOADED for job in jobs)
    stuck = workers.unfinished
    kept = "partial files kept: the next run resumes them" + (
        f"; {stuck} download(s) did not stop in time" if stuck else "")
    return FetchInterrupted(f"{len(stopped)} file(s) not downloaded, {done} completed before "
                            f"Ctrl-C ({kept}); run models.fetch again to finish")
