"""The resumable partial file: what its record claims after writes, kills and reopenings."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from scanner.fetch.partial import MIB, PartialFile, Segment, layout, present_in, segment_size

SHA = "a" * 64


def test_segments_are_one_per_connection_between_16_and_64_mib() -> None:
    assert segment_size(1_000_000, 12) == 16 * MIB, "a small file is one request"
    assert segment_size(300_000_000, 12) == 25_000_000, "a mid-size file: one range each"
    assert segment_size(7_000_000_000, 12) == 64 * MIB
    assert layout(40, 16) == [Segment(0, 0, 16), Segment(1, 16, 32), Segment(2, 32, 40)]
    assert layout(0, 16) == [Segment(0, 0, 0)]


def test_a_reopened_partial_resumes_each_segment_where_its_record_says(tmp_path: Path) -> None:
    path = tmp_path / "blob.resume.incomplete"
    first = PartialFile.open(path, 40, SHA, 16)
    first.write(0, b"x" * 10)
    first.record(0, 10)
    first.write(16, b"y" * 16)
    first.record(1, 32)
    first.write(32, b"z" * 3)  # written, never recorded: a kill between write and record
    first.close()
    again = PartialFile.open(path, 40, SHA, 8)  # its own segment size is kept
    assert again.seg_size == 16 and again.present == 26 == present_in(path, 40, SHA)
    assert again.missing() == [Segment(0, 10, 16), Segment(2, 32, 40)]
    assert again.prefix_end() == 10
    assert again.read(16, 16) == b"y" * 16
    again.close()


@pytest.mark.parametrize(("size", "blob_id"), [(41, SHA), (40, "b" * 64)],
                         ids=["other-size", "other-sha256"])
def test_a_record_for_another_file_is_discarded(tmp_path: Path, size: int, blob_id: str) -> None:
    path = tmp_path / "blob.resume.incomplete"
    old = PartialFile.open(path, 40, SHA, 16)
    old.write(0, b"x" * 16)
    old.record(0, 16)
    old.close()
    new = PartialFile.open(path, size, blob_id, 16)
    assert new.present == 0 and new.missing() == layout(size, 16)
    new.close()
    assert os.path.getsize(path) > size, "a fresh record was written"


@pytest.mark.parametrize("damage", ["truncated", "slot-out-of-range", "garbage"])
def test_a_damaged_record_is_never_trusted(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "blob.resume.incomplete"
    old = PartialFile.open(path, 40, SHA, 16)
    old.write(0, b"x" * 16)
    old.record(0, 16)
    old.close()
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:-5])
    elif damage == "slot-out-of-range":
        path.write_bytes(data.replace(b"00000000000000000016\n", b"00000000000000000099\n"))
    else:
        path.write_bytes(data[:40] + b"not a record\n")
    assert present_in(path, 40, SHA) == 0
    fresh = PartialFile.open(path, 40, SHA, 16)
    assert fresh.present == 0
    fresh.close()


def test_one_stream_restart_keeps_the_bytes_and_finish_leaves_exactly_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "blob.resume.incomplete"
    part = PartialFile.open(path, 40, SHA, 16)
    part.write(16, b"y" * 16)
    part.record(1, 32)
    part.restart_as_one_stream()
    assert part.segments == [Segment(0, 0, 40)] and part.present == 0
    part.write(0, b"x" * 40)
    part.record(0, 40)
    assert part.prefix_end() == 40 and part.missing() == []
    part.finish()
    assert path.read_bytes() == b"x" * 40


def test_no_record_is_no_resume(tmp_path: Path) -> None:
    assert present_in(tmp_path / "absent", 40, SHA) == 0
    plain = tmp_path / "plain.incomplete"
    plain.write_bytes(b"x" * 60)  # huggingface_hub's partials carry no record
    assert present_in(plain, 40, SHA) == 0


def test_the_record_is_the_documented_text_after_the_files_bytes(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "blobs" / "blob.resume.incomplete"  # folders made as needed
    part = PartialFile.open(path, 40, SHA, 16)
    part.write(0, b"x" * 16)
    part.record(0, 16)
    part.write(16, b"y" * 4)
    part.record(1, 20)
    assert part.prefix_end() == 20, "a complete segment does not stop the hashable prefix"
    part.close()
    slots = [16, 20, 32]
    assert path.read_bytes()[40:] == (f"fetch-test-models partial 1 40 {SHA} 16\n".encode()
                                      + b"".join(b"%020d\n" % n for n in slots))
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask(), "as huggingface_hub's blobs"
    second = PartialFile.open(path.with_name("other.resume.incomplete"), 4, SHA, 16)
    assert second.present == 0, "a second partial in the same folder"
    second.close()


def test_a_one_stream_record_is_resumed_as_one_stream(tmp_path: Path) -> None:
    path = tmp_path / "blob.resume.incomplete"
    part = PartialFile.open(path, 40, SHA, 16)
    part.restart_as_one_stream()
    part.write(0, b"x" * 25)
    part.record(0, 25)
    part.close()
    assert path.read_bytes()[40:] == f"fetch-test-models partial 1 40 {SHA} 40\n".encode() + \
        b"%020d\n" % 25
    again = PartialFile.open(path, 40, SHA, 16)
    assert again.segments == [Segment(0, 0, 40)] and again.missing() == [Segment(0, 25, 40)]
    again.close()


@pytest.mark.parametrize("header", [
    f"fetch-test-models partial 1 40 {SHA} 0\n",  # no segment size
    f"fetch-test-models partial 1 40 {SHA} 1\n",  # 40 segments: slots missing
    "fetch-test-models partial 1 40 \xe9\xe9 16\n",  # not ASCII
])
def test_a_record_with_an_impossible_header_is_refused(tmp_path: Path, header: str) -> None:
    path = tmp_path / "blob.resume.incomplete"
    path.write_bytes(b"x" * 40 + header.encode("latin-1") + b"%020d\n" % 0 * 3)
    assert present_in(path, 40, SHA) == 0


def test_segment_counts_for_one_connection_and_tiny_files() -> None:
    assert segment_size(40 * MIB, 1) == 40 * MIB, "one connection: one range up to 64 MiB"
    assert segment_size(1, 12) == 16_777_216


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_large_files_record_is_read_back_whole(tmp_path: Path) -> None:
    """A 1 GiB file in 16 MiB ranges: 64 slots after a long header (the file stays sparse)."""
    size = 1024 * MIB
    path = tmp_path / "blob.resume.incomplete"
    part = PartialFile.open(path, size, SHA, 16 * MIB)
    part.write(63 * 16 * MIB, b"z" * 10)
    part.record(63, 63 * 16 * MIB + 10)
    part.close()
    assert present_in(path, size, SHA) == 10
