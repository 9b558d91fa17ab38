"""One file's transfer: the blob's lock, its resumable partial file, its byte ranges and its
content check, computed as the bytes arrive.

The download workers call `begin` once (it claims the blob: `claim.py`), then `fetch` for every
segment `take` hands out; several workers may fetch segments of one file at once. The first
range asked for decides whether the server honours `Range`: the other segments are handed out
once it answered 206, and a 200 (the whole file) makes that one stream the file's only one,
from byte 0. So the layout of segments never changes under a running worker. The last segment
to end stores the file (or, when it failed or was interrupted, keeps the partial for the next
run)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

import filelock
import httpx2 as httpx

from ..cache import layout as hf_cache
from ..hub.errors import Cancelled, HubError, classify, file_response_error, lock_size_error
from .claim import claim_blob
from .content import StreamingCheck
from .jobs import FileJob
from .partial import PartialFile, Segment
from .reporting import FileProgress

if TYPE_CHECKING:
    from ..hub.client import HubClient


class _Unresumable(HubError):
    """`--locked`: the Hub's file has another size than the lock's. No rerun could finish such
    a download: it is not retried, and its partial goes instead of being kept."""


#: Why a file stops before all its bytes are in: its first failure, or Ctrl-C (`Cancelled`).
Stop: TypeAlias = HubError | Cancelled


class Left(NamedTuple):
    """What is left of one range of a file."""

    segment: int  # the index of the layout's segment that holds it
    written: int  # where the segment's record says it is written up to
    end: int


class FileTransfer:
    """One file to download, shared by the workers that fetch its segments."""

    def __init__(self, job: FileJob, client: HubClient, cache: Path, connections: int,
                 progress: FileProgress, wake: Callable[[], None] = lambda: None) -> None:
        self.job, self.client, self.cache, self.progress = job, client, cache, progress
        self.connections = connections
        self.what = job.label
        self.url = client.file_url(job.repo, job.commit, job.file.path)
        self._headers = client.file_headers()
        self._wake = wake  # tells idle workers that segments may be taken now
        self._lock = threading.Lock()  # guards the fields below and the partial's record
        self._pending: deque[Segment] = deque()
        self._in_flight = 0
        #: no answer to a range request yet: whether the server honours `Range` is unknown, so
        #: the file's first range is its only one in flight
        self._probing = True
        #: why the file stops before all its bytes are in (its first failure, or Ctrl-C)
        self._stop: Stop | None = None
        self._partial: PartialFile | None = None
        self._file_lock: filelock.BaseFileLock | None = None  # held from `begin` to `_end`
        self._check = StreamingCheck(job.file, job.expected_from)
        self._advance: Callable[[int], None] = lambda n: None
        self._started = 0.0

    # -- set-up ---------------------------------------------------------------------------
    def begin(self) -> None:
        """Claim the blob (`claim.py`: its lock, the partial opened or resumed). The transfer
        has `ended` at once when there is nothing to fetch: another process stored the file
        while this one waited, it was complete already, or it failed."""
        job = self.job
        claimed = claim_blob(job, self.client, self.cache, self.connections, self.progress)
        if claimed is None:
            return
        self._file_lock, self._partial = claimed
        job.resumed = self._partial.present
        self._pending.extend(self._partial.missing())
        self._advance, self._started = self.progress.file_started(
            job.label, job.file.size, self._partial.present)
        if not self._pending:  # complete already: killed between its last byte and the rename
            self._end()

    def take(self) -> Segment | None:
        """A segment for a free worker, if this file has one that may start now."""
        with self._lock:
            if not self._pending or self._stopped() or (self._probing and self._in_flight):
                return None
            self._in_flight += 1
            return self._pending.popleft()

    @property
    def ended(self) -> bool:
        """Stored, failed or interrupted: its lock is released."""
        return self._file_lock is None

    def _stopped(self) -> Stop | None:
        """Why the file stops early, if it does: its first failure, else Ctrl-C (the run's).
        Looked at before each request of the file and when it ends."""
        if self._stop is None and self.client.cancelled:
            return Cancelled("interrupted")
        return self._stop

    # -- one segment ----------------------------------------------------------------------
    def fetch(self, segment: Segment) -> None:
        """Fetch one segment; the file's last segment to end finishes the file.

        The client retries a failed request with backoff, each attempt resuming where the last
        one stopped. An attempt that wrote new bytes starts a fresh count of attempts (a flaky
        link that cuts responses still finishes the file), up to the client's `tries` per range
        (a server that trickles a byte per response does not keep the run busy)."""
        try:
            self.client.request(lambda: self._attempt(segment), self.job.repo,
                                self.job.file.path, progress=lambda: self._left(segment).written)
        except (Cancelled, HubError) as reason:
            with self._lock:
                self._stop = self._stop or reason
        finally:
            with self._lock:
                self._in_flight -= 1
                last = self._in_flight == 0 and (not self._pending or bool(self._stopped()))
        if last:
            self._end()

    def _left(self, segment: Segment) -> Left:
        """What is left of the range that began at `segment.start`, in the layout's segment
        holding that byte (the file's one segment once the server was found to ignore
        `Range`)."""
        assert self._partial is not None
        partial = self._partial
        with self._lock:
            index = segment.start // partial.seg_size
            return Left(index, partial.done[index], partial.segments[index].end)

    def _attempt(self, segment: Segment) -> None:
        """One request for what is left of the segment, written as it arrives."""
        size = self.job.file.size
        index, pos, end = self._left(segment)
        if self._stopped():  # no `pos < end` check: a retry follows a response cut short
            return
        ranged = (pos, end) != (0, size)
        headers = {**self._headers, "Range": f"bytes={pos}-{end - 1}"} if ranged \
            else self._headers
        with self.client.stream(self.url, headers) as response:
            error = self._size_disagreement(response) or file_response_error(
                response, pos, size, self.what, bool(self.client.token))
            if error is not None:
                raise error
            if ranged and response.status_code == 200:  # the whole file, from byte 0
                self._one_stream(pos, end)
                index, pos, end = 0, 0, size
            elif ranged:
                self._ranges_honoured()
            self._read(response, index, pos, end)

    def _size_disagreement(self, response: httpx.Response) -> HubError | None:
        """`--locked`: the Hub's file has another size than the lock's."""
        job = self.job
        if not job.pinned_by:
            return None  # the size is the Hub's own listing: `file_response_error` checks it
        error = lock_size_error(response, job.file.size, self.what, job.lock_fix())
        return None if error is None else _Unresumable(error.kind, str(error))

    def _ranges_honoured(self) -> None:
        """A 206: the server honours `Range`, the file's other segments may start."""
        with self._lock:
            probing, self._probing = self._probing, False
        if probing:
            self._wake()

    def _one_stream(self, pos: int, end: int) -> None:
        """The server ignored `Range` (200, the whole file): this stream writes the file from
        byte 0 as its one segment, which only a stream alone on the file may do."""
        assert self._partial is not None
        with self._lock:
            if self._in_flight > 1:  # the server honoured `Range` before: it may again
                raise HubError("server", f"{self.what}: asked for bytes {pos}-{end - 1}, the "
                               "Hub sent the whole file")
            self._pending.clear()
            self._partial.restart_as_one_stream()
            # every byte shown so far, an earlier run's included, comes again from byte 0
            shown = self.job.resumed + self.job.received
            self.job.received = self.job.resumed = 0
        if shown:
            self._advance(-shown)

    def _read(self, response: httpx.Response, index: int, pos: int, end: int) -> None:
        """Write the body from `pos` as it arrives, up to `end`. Ctrl-C ends it at the next
        chunk; another range's failure does not: its bytes are kept for the next run."""
        started = pos
        try:
            for chunk in response.iter_raw():
                if self.client.cancelled:
                    raise Cancelled("interrupted")
                pos = self._write(index, pos, chunk[:end - pos])
                if pos >= end:
                    return
        except httpx.TransportError as exc:
            if pos == started:
                raise
            # it was sending: a stall or a cut mid-file says nothing about the endpoint, so
            # it is retried (and resumed) without marking the Hub silent for the whole run
            error = classify(exc, self.job.repo, self.job.file.path, bool(self.client.token),
                             self.client.endpoint, self.cache)
            raise HubError("unreachable", str(error)) from exc
        raise HubError("unreachable", f"{self.what}: the Hub sent less than the listed size "
                       f"({self.job.file.size} bytes): the response ended at byte {pos}")

    def _write(self, index: int, pos: int, data: bytes) -> int:
        """Write a chunk of segment `index` at `pos`; the new position."""
        assert self._partial is not None
        partial = self._partial
        partial.write(pos, data)  # outside the lock: other segments go on meanwhile
        partial.record(index, pos + len(data))  # the segment's slot is this worker's alone
        with self._lock:
            self.job.received += len(data)
        self._advance(len(data))
        self._check.advance(partial, self._prefix_end)
        return pos + len(data)

    def _prefix_end(self) -> int:
        assert self._partial is not None
        with self._lock:
            return self._partial.prefix_end()

    # -- the end --------------------------------------------------------------------------
    def _end(self) -> None:
        """Store the checked file, or keep the partial for the next run (a file whose content
        does not match is removed: resuming it would only rebuild the same wrong bytes)."""
        assert self._partial is not None
        job, partial = self.job, self._partial
        with self._lock:
            lock, self._file_lock = self._file_lock, None
        if lock is None:
            return  # ended already
        try:
            stop = self._stopped()
            if stop is None:
                self._store(partial)
                self.progress.file_done(job.label, job.file.size, self._started, job.error)
            elif isinstance(stop, Cancelled):
                partial.keep()
                job.interrupt()
                self.progress.file_cancelled(job.label)
            else:
                kept = 0
                if isinstance(stop, _Unresumable):
                    partial.discard()  # no rerun could finish it
                else:
                    kept = partial.keep()
                job.fail(str(stop) + (f"; {kept * 100 // max(job.file.size, 1)} % kept, the "
                                      "next run resumes it" if kept else ""))
                self.progress.file_done(job.label, job.file.size, self._started, job.error)
        finally:
            lock.release()

    def _store(self, partial: PartialFile) -> None:
        """Hash what is left, then the file enters `blobs/` by rename and its snapshot."""
        job = self.job
        try:
            self._check.advance(partial, self._prefix_end, wait=True)
            problem = self._check.problem()
            if problem:
                partial.discard()
                disagree = f"; the lock and the Hub disagree: {job.lock_fix()}" \
                    if job.pinned_by else ""
                job.fail(f"{self.what}: {problem}; removed from the cache{disagree}")
                return
            partial.finish()
            hf_cache.store_blob(partial.path, self.cache, job.repo, job.commit, job.file)
        except OSError as error:
            partial.close()
            job.fail(str(classify(error, job.repo, job.file.path, cache=self.cache)))
            return
        job.stored(by_this_run=True)

    def close(self) -> None:
        """Ctrl-C left this file with no segment in flight: keep its partial, free its lock."""
        with self._lock:
            idle = self._in_flight == 0
        if idle:
            self._end()
