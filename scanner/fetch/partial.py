"""A download's partial file, kept across runs so that the next run asks only for what is missing.

`blobs/<blob>.resume.incomplete` holds the bytes received so far at their offsets (holes where
nothing arrived yet), followed by a trailer: a header line with the file's size, its expected id
and the segment size, then one fixed-width slot per segment saying how far that segment is
written. A slot is rewritten in place right after each chunk of its segment reaches the file, so
a run killed at any moment leaves a record that never claims a byte it did not write; the content
check before the file enters `blobs/` catches what a power cut could still leave behind.

The name ends in `.incomplete`, so `hf cache` (`scan_cache_dir`) counts it as an incomplete
download and its cleaning removes it. huggingface_hub's own partials are
`<etag>.<8 hex>.incomplete`, written once and never reused; llama.cpp's are
`.downloadInProgress`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

_MAGIC = "fetch-test-models partial 1"
_SLOT = 21  # 20 decimal digits and a newline

MIB = 1024 * 1024
#: Large files are fetched as byte ranges of this size, several connections at a time.
MIN_SEGMENT = 16 * MIB
MAX_SEGMENT = 64 * MIB


@dataclass(frozen=True)
class Segment:
    """Bytes `start` to `end` (exclusive) of a file, fetched as one range request."""

    index: int
    start: int
    end: int


def segment_size(size: int, connections: int) -> int:
    """One range per connection for a mid-size file (all connections finish together), between
    16 and 64 MiB: a file below 16 MiB is one request, a 7 GB file ~100 ranges."""
    return min(MAX_SEGMENT, max(MIN_SEGMENT, -(-size // max(connections, 1))))


def segment_count(size: int, seg_size: int) -> int:
    """Segments of `seg_size` a file of `size` bytes has (an empty file has one)."""
    return max(1, -(-size // seg_size))


def layout(size: int, seg_size: int) -> list[Segment]:
    if size == 0:
        return [Segment(0, 0, 0)]
    return [Segment(i, start, min(start + seg_size, size))
            for i, start in enumerate(range(0, size, seg_size))]


class PartialFile:
    """An open partial file and its record. `write`, and `record` of a segment by the one worker
    that fetches it, are safe from several threads at once; the other methods are called under
    the owner's lock."""

    def __init__(self, path: Path, size: int, blob_id: str, seg_size: int) -> None:
        self.path, self.size, self.blob_id = path, size, blob_id
        self._lay_out(seg_size)
        self._fd = -1
        # The kernel lets one write into a file at a time (ext4's inode lock) and a writer
        # waiting for it spins, burning the CPU the other downloads need; waiting here sleeps.
        self._writing = threading.Lock()

    def _lay_out(self, seg_size: int) -> None:
        """Segments of `seg_size`, none written yet, and the record's header that names it."""
        self.seg_size = seg_size
        self.segments = layout(self.size, seg_size)
        self.done = [seg.start for seg in self.segments]
        self._header = f"{_MAGIC} {self.size} {self.blob_id} {seg_size}\n".encode()

    @classmethod
    def open(cls, path: Path, size: int, blob_id: str, seg_size: int) -> PartialFile:
        """Resume the partial at `path` if its record is for this file (same size and id; its
        own segment size is kept), else start a new one in its place."""
        found = _read_record(path, size, blob_id)
        partial = cls(path, size, blob_id, found[0] if found else seg_size)
        if found:
            partial._fd = os.open(path, os.O_RDWR)
            partial.done = found[1]
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
            try:
                partial._write_trailer()
            except OSError:
                partial.discard()  # no room for even the record: nothing to keep
                raise
        return partial

    @property
    def present(self) -> int:
        """Bytes already in the file (from earlier runs, then this one)."""
        return _present(self.segments, self.done)

    def missing(self) -> list[Segment]:
        """What is left of each unfinished segment."""
        return [Segment(seg.index, done, seg.end)
                for seg, done in zip(self.segments, self.done, strict=True) if done < seg.end]

    def prefix_end(self) -> int:
        """Where the written prefix of the file ends (what can be hashed in order)."""
        for seg, done in zip(self.segments, self.done, strict=True):
            if done < seg.end:
                return done
        return self.size

    def write(self, offset: int, data: bytes) -> None:
        """The bytes only: `record` claims them once they are written."""
        with self._writing:
            os.pwrite(self._fd, data, offset)

    def record(self, index: int, done: int) -> None:
        """Segment `index` is written up to `done`. Called after `write` returned, so a kill
        between the two loses the chunk, never claims it; by the one worker that fetches the
        segment, which alone writes its slot."""
        self.done[index] = done
        with self._writing:
            os.pwrite(self._fd, f"{done:020d}\n".encode(),
                      self.size + len(self._header) + index * _SLOT)

    def restart_as_one_stream(self) -> None:
        """The server ignores `Range`: one segment from byte 0. Bytes already at their offsets
        stay (the same content will be written over them)."""
        self._lay_out(max(self.size, 1))
        os.ftruncate(self._fd, self.size)
        self._write_trailer()

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def finish(self) -> None:
        """Complete: drop the record, leaving exactly the file's bytes."""
        os.ftruncate(self._fd, self.size)
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def keep(self) -> int:
        """Closed for the next run to resume, with the bytes it holds; one that holds none is
        removed instead (no partial is left behind with nothing to resume)."""
        kept = self.present
        if kept:
            self.close()
        else:
            self.discard()
        return kept

    def _write_trailer(self) -> None:
        slots = b"".join(f"{done:020d}\n".encode() for done in self.done)
        os.pwrite(self._fd, self._header + slots, self.size)


def present_in(path: Path, size: int, blob_id: str) -> int:
    """Bytes a resumable partial at `path` already holds of this file (0 when there is none)."""
    found = _read_record(path, size, blob_id)
    if found is None:
        return 0
    return _present(layout(size, found[0]), found[1])


def _present(segments: list[Segment], done: list[int]) -> int:
    return sum(d - seg.start for seg, d in zip(segments, done, strict=True))


def _read_record(path: Path, size: int, blob_id: str) -> tuple[int, list[int]] | None:
    """The segment size and slots of the partial at `path`, if it is a valid one of this file."""
    longest = 256 + _SLOT * (size // MIN_SEGMENT + 1)  # segments are never below MIN_SEGMENT
    try:
        with path.open("rb") as handle:
            handle.seek(size)
            trailer = handle.read(longest + 1)  # a longer one is not ours: never read it all
    except OSError:
        return None
    header, _, slots = trailer.partition(b"\n")
    fields = header.decode("ascii", "replace").rsplit(" ", 3)
    if len(fields) != 4 or fields[0] != _MAGIC or fields[1:3] != [str(size), blob_id]:
        return None
    try:
        seg_size = int(fields[3])
        done = [int(slots[i:i + _SLOT]) for i in range(0, len(slots), _SLOT)]
    except ValueError:
        return None
    if seg_size <= 0 or len(slots) != segment_count(size, seg_size) * _SLOT:
        return None
    segments = layout(size, seg_size)
    if not all(seg.start <= d <= seg.end for seg, d in zip(segments, done, strict=True)):
        return None
    return seg_size, done
