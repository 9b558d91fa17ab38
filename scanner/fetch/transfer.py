"""One file's transfer: the blob's lock, its resumable partial file, its byte ranges and its
content check, computed as the bytes arrive.

The download workers call `begin` once, then `fetch` for every segment `take` hands out; several
workers may fetch segments of one file at once. The last segment to end stores the file (or, when
it failed or was interrupted, keeps the partial for the next run)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import filelock
import httpx2 as httpx

from .. import cache as hf_cache
from ..hub_errors import Cancelled, HubError, classify, file_response_error, lock_size_error
from .content import StreamingCheck
from .jobs import FileJob
from .partial import PartialFile, Segment, segment_size
from .reporting import FileProgress

if TYPE_CHECKING:
    from ..hub import HubClient

#: How often a wait for another process's lock on the same blob looks at Ctrl-C.
LOCK_POLL_S = 0.1


@dataclass
class _Stream:
    """What one worker fetches: a segment of the file's layout of `generation` (a server that
    ignores `Range` makes one stream take the file over, in a new layout)."""

    segment: Segment
    generation: int
    #: bytes it wrote, over all its attempts: an attempt that adds some made progress
    written: int = 0


class FileTransfer:
    """One file to download, shared by the workers that fetch its segments."""

    def __init__(self, job: FileJob, client: HubClient, cache: Path, connections: int,
                 progress: FileProgress) -> None:
        self.job, self.client, self.cache, self.progress = job, client, cache, progress
        self.connections = connections
        self.what = f"{job.repo} {job.file.path}"
        self.url = client.file_url(job.repo, job.commit, job.file.path)
        self._headers = client.file_headers()
        self._lock = threading.Lock()  # guards the fields below and the partial's record
        self._pending: deque[Segment] = deque()
        self._in_flight = 0
        self._generation = 0  # bumped when the server ignores Range and one stream takes over
        self._error: str | None = None
        self._cancelled = False
        self._partial: PartialFile | None = None
        self._file_lock: filelock.BaseFileLock | None = None  # taken in `begin`
        self._check = StreamingCheck(job.file, job.expected_from)
        #: the partial can never become the file (the lock and the Hub disagree on its size)
        self._discard = False
        self._advance: Callable[[int], None] = lambda n: None
        self._started = 0.0
        self._ended = False

    # -- set-up ---------------------------------------------------------------------------
    def begin(self) -> bool:
        """Take the blob's lock and open (or resume) the partial. False when there is nothing
        to fetch: another process stored the file while this one waited, or it failed."""
        job = self.job
        try:  # another process (ours, `hf download`, a test) may be writing this blob
            lock = hf_cache.wait_for_blob_lock(
                self.cache, job.repo, job.file, poll=LOCK_POLL_S,
                stopped=lambda: self.client.cancelled,
                waiting=lambda held: self.progress.file_waiting(job.label, held))
        except OSError as error:  # `.locks/` not writable, no space for the lock file
            job.fail(str(classify(error, job.repo, job.file.path, cache=self.cache)))
            return False
        if lock is None:
            raise Cancelled("interrupted")  # Ctrl-C ended the wait
        self._file_lock = lock
        try:
            if hf_cache.adopt_stored_blob(self.cache, job.repo, job.commit, job.file):
                job.resumed = 0
                job.stored(by_this_run=False)
                lock.release()
                return False
            self._partial = PartialFile.open(
                hf_cache.resumable_partial(self.cache, job.repo, job.file), job.file.size,
                job.file.blob_id, segment_size(job.file.size, self.connections))
        except OSError as error:
            job.fail(str(classify(error, job.repo, job.file.path, cache=self.cache)))
            lock.release()
            return False
        job.resumed = self._partial.present
        self._pending.extend(self._partial.missing())
        self._advance, self._started = self.progress.file_started(
            job.label, job.file.size, self._partial.present)
        if not self._pending:  # complete already: killed between its last byte and the rename
            self._end()
            return False
        return True

    def take(self) -> Segment | None:
        """A segment for a free worker, if this file has one left."""
        with self._lock:
            if not self._pending or self._stopped:
                return None
            self._in_flight += 1
            return self._pending.popleft()

    @property
    def ended(self) -> bool:
        """Stored, failed or interrupted: its lock is released."""
        return self._ended

    @property
    def _stopped(self) -> bool:
        return self._error is not None or self._cancelled or self.client.cancelled

    # -- one segment ----------------------------------------------------------------------
    def fetch(self, segment: Segment) -> None:
        """Fetch one segment, retrying from where it stopped; the file's last segment to end
        finishes the file."""
        with self._lock:
            stream = _Stream(segment, self._generation)
        try:
            self._fetch_with_retries(stream)
        except Cancelled:
            self._cancelled = True
        except HubError as error:
            self._fail(str(error))
        finally:
            with self._lock:
                self._in_flight -= 1
                last = self._in_flight == 0 and (not self._pending or self._stopped)
        if last:
            self._end()

    def _fetch_with_retries(self, stream: _Stream) -> None:
        """The client retries a failed request with backoff, each attempt resuming where the
        last one stopped. An attempt that wrote new bytes starts a fresh count of attempts (a
        flaky link that cuts responses still finishes the file), up to the client's `tries`
        per range (a server that trickles a byte per response does not keep the run busy)."""
        self.client.request(lambda: self._attempt(stream), self.job.repo, self.job.file.path,
                            progress=lambda: stream.written)

    def _written(self, stream: _Stream) -> int:
        """Where the stream's segment is written up to (its end once another stream took the
        file over: nothing is left for it)."""
        assert self._partial is not None
        with self._lock:
            if stream.generation != self._generation:
                return stream.segment.end
            return self._partial.done[stream.segment.index]

    def _attempt(self, stream: _Stream) -> None:
        """One request for what is left of the segment, written as it arrives."""
        assert self._partial is not None
        pos, end = self._written(stream), stream.segment.end
        if pos >= end or self._stopped:
            return
        whole = (pos, end) == (0, self.job.file.size)
        headers = self._headers if whole else {**self._headers, "Range": f"bytes={pos}-{end - 1}"}
        with self.client.stream(self.url, headers) as response:
            error = self._size_disagreement(response) or file_response_error(
                response, pos, self.job.file.size, self.what, bool(self.client.token))
            if error is not None:
                raise error
            if response.status_code == 200 and not whole:  # the server ignores Range
                if not self._one_stream(stream.generation):
                    return  # another worker took the whole body
                stream.segment, stream.generation = self._partial.segments[0], stream.generation + 1
                pos, end = 0, self.job.file.size
            started = pos
            try:
                for chunk in response.iter_raw():
                    if self.client.cancelled:
                        raise Cancelled("interrupted")
                    pos = self._write(stream, pos, chunk[:end - pos])
                    if pos < 0 or pos >= end:
                        break
            except httpx.TransportError as exc:
                if pos == started:
                    raise
                # it was sending: a stall or a cut mid-file says nothing about the endpoint, so
                # it is retried (and resumed) without marking the Hub silent for the whole run
                error = classify(exc, self.job.repo, self.job.file.path, bool(self.client.token),
                                 self.client.endpoint, self.cache)
                raise HubError("unreachable", str(error)) from exc
        if 0 <= pos < end:
            raise HubError("unreachable", f"{self.what}: the Hub sent less than the listed size "
                           f"({self.job.file.size} bytes): the response ended at byte {pos}")

    def _size_disagreement(self, response: httpx.Response) -> HubError | None:
        """`--locked`: the Hub's file has another size than the lock's. No rerun could finish
        such a download: it is not resumed (its partial goes), nor retried."""
        job = self.job
        if not job.pinned_by:
            return None  # the size is the Hub's own listing: `file_response_error` checks it
        error = lock_size_error(response, job.file.size, self.what, job.lock_fix())
        if error is not None:
            with self._lock:
                self._discard = True
        return error

    def _write(self, stream: _Stream, pos: int, data: bytes) -> int:
        """Write a chunk at `pos`; the new position, or -1 when this stream must stop."""
        assert self._partial is not None
        partial = self._partial
        if stream.generation != self._generation or self._error is not None:
            return -1
        partial.write(pos, data)  # outside the lock: segments of a file write in parallel
        with self._lock:
            if stream.generation != self._generation:  # one stream took over meanwhile
                return -1
            partial.record(stream.segment.index, pos + len(data))
            self.job.received += len(data)
            stream.written += len(data)
        self._advance(len(data))
        self._check.advance(partial, self._prefix_end)
        return pos + len(data)

    def _prefix_end(self) -> int:
        assert self._partial is not None
        with self._lock:
            return self._partial.prefix_end()

    def _one_stream(self, generation: int) -> bool:
        """The server ignored `Range` (200, whole body): this stream writes the file from byte
        0, every other stream of the file stops. False if another stream already took over."""
        assert self._partial is not None
        with self._lock:
            if generation != self._generation:
                return False
            self._generation += 1
            self._pending.clear()
            self._partial.restart_as_one_stream()
            # every byte counted so far, an earlier run's included, comes again from byte 0
            taken_back = self.job.received
            self.job.received = self.job.resumed = 0
        self._advance(-taken_back)
        return True

    # -- the end --------------------------------------------------------------------------
    def _fail(self, error: str) -> None:
        with self._lock:
            if self._error is None:
                self._error = error
            self._pending.clear()

    def _end(self) -> None:
        """Store the checked file, or keep the partial for the next run (a file whose content
        does not match is removed: resuming it would only rebuild the same wrong bytes)."""
        assert self._partial is not None
        job, partial = self.job, self._partial
        with self._lock:
            if self._ended:
                return
            self._ended = True
        try:
            if self._error is None and not (self._cancelled or self.client.cancelled):
                self._store(partial)
                self.progress.file_done(job.label, job.file.size, self._started, job.error)
                return
            if self._discard:
                partial.discard()
            kept = 0 if self._discard else partial.keep()
            if self._error is None:
                job.interrupt()
                self.progress.file_cancelled(job.label)
                return
            job.fail(self._error + (f"; {kept * 100 // max(job.file.size, 1)} % kept, the "
                                    "next run resumes it" if kept else ""))
            self.progress.file_done(job.label, job.file.size, self._started, job.error)
        finally:
            assert self._file_lock is not None, "taken in `begin`"
            self._file_lock.release()

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
            idle = self._in_flight == 0 and self._partial is not None
        if idle:
            self._cancelled = True
            self._end()
