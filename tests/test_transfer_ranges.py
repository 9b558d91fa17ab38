"""How a large file's ranges start: the first one asked for tells whether the server honours
`Range`, the others run beside it once it answered; a server that sends the whole file instead
is read once, and progress shows each byte once."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scanner.fetch import partial as partial_mod
from scanner.fetch.jobs import FileJob, FileStatus
from scanner.fetch.partial import MIB
from tests.downloads import (
    REPO,
    RecordingProgress,
    download_one,
    file_gets,
    partials,
    wait_for,
)
from tests.fakehub import CHUNK, FakeHub, Fault
from tests.test_transfer import BIG, SIZE, add_big, assert_stored, cut_then_down

QUARTER = SIZE // 4


def starts(hub_: FakeHub) -> list[int]:
    """The first byte of each range asked for, in order of arrival."""
    return [int(r.headers["range"][6:].split("-")[0]) for r in file_gets(hub_, BIG)
            if "range" in r.headers]


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranges from 1 MiB, so a 5 MiB file is split as a multi-GB one would be."""
    monkeypatch.setattr(partial_mod, "MIN_SEGMENT", MIB)


@contextmanager
def downloading(hub_: FakeHub, cache: Path, held: Fault) -> Iterator[
        Callable[[], tuple[FileJob, RecordingProgress]]]:
    """`download_one` with 4 connections on a thread, while the block watches the Hub's log;
    the response `held` holds is released when the block ends."""
    result: list[tuple[FileJob, RecordingProgress]] = []
    thread = threading.Thread(
        target=lambda: result.append(download_one(hub_, cache, BIG, connections=4)))
    thread.start()

    def finished() -> tuple[FileJob, RecordingProgress]:
        thread.join(timeout=60)
        return result[0]

    try:
        yield finished
    finally:
        held.release.set()
        thread.join(timeout=60)


def test_a_server_ignoring_range_is_asked_for_the_file_once(
    fake_hub: FakeHub, hub_env: Path, small_segments: None
) -> None:
    """Its answer to the first range is the whole file: no other range is asked for, so the
    file crosses the network once."""
    add_big(fake_hub)
    fake_hub.ignore_range = True
    fake_hub.rate_limit_bytes_per_s = 10_000_000
    job, progress = download_one(fake_hub, hub_env, BIG, connections=4)
    assert job.status is FileStatus.DOWNLOADED
    assert len(file_gets(fake_hub, BIG)) == 1
    assert sum(progress.bytes) == job.received == SIZE
    assert_stored(hub_env, fake_hub, job)


def test_a_resumed_file_sent_whole_shows_each_byte_once(
    fake_hub: FakeHub, hub_env: Path, small_segments: None
) -> None:
    """An earlier run left bytes; the server now ignores `Range`: the progress bar starts at
    what was left, goes back to 0 as the file comes again from byte 0, and ends at its size."""
    add_big(fake_hub)
    cut_then_down(fake_hub, after=200_000)
    download_one(fake_hub, hub_env, BIG, connections=4)
    fake_hub.clear_faults()
    fake_hub.reset_counts()
    fake_hub.ignore_range = True
    job, progress = download_one(fake_hub, hub_env, BIG, connections=4)
    (present,) = progress.present
    assert job.status is FileStatus.DOWNLOADED and present == 200_000
    shown = list(itertools.accumulate(progress.bytes, initial=present))
    assert shown[-1] == SIZE and max(shown) <= SIZE
    assert len(file_gets(fake_hub, BIG)) == 1
    assert_stored(hub_env, fake_hub, job)


def test_a_resumed_files_ranges_run_beside_its_first_once_it_answered(
    fake_hub: FakeHub, hub_env: Path, small_segments: None
) -> None:
    """Each range kept bytes from an earlier run: the rerun's first range is held by the Hub
    after its first bytes, and the three others are asked for meanwhile, each from where its
    record stopped."""
    add_big(fake_hub)
    cut_then_down(fake_hub, after=200_000, starts=tuple(i * QUARTER for i in range(4)))
    failed, _ = download_one(fake_hub, hub_env, BIG, connections=4)
    assert failed.received == 4 * 200_000
    fake_hub.clear_faults()
    fake_hub.reset_counts()
    held = Fault("hold", after=CHUNK, range_start=200_000)
    fake_hub.add_fault(BIG, held)
    with downloading(fake_hub, hub_env, held) as finished:
        wait_for(lambda: len(starts(fake_hub)) == 4, "the other ranges beside the held one")
        assert starts(fake_hub)[0] == 200_000, "the first range was asked for first"
        assert sorted(starts(fake_hub)) == [i * QUARTER + 200_000 for i in range(4)]
    job, progress = finished()
    assert job.status is FileStatus.DOWNLOADED and len(starts(fake_hub)) == 4
    assert (job.resumed, job.received) == (800_000, SIZE - 800_000)
    assert progress.present[0] + sum(progress.bytes) == SIZE
    assert_stored(hub_env, fake_hub, job)
    assert partials(hub_env) == []


def test_a_range_answered_whole_while_others_run_is_asked_for_again(
    fake_hub: FakeHub, hub_env: Path, small_segments: None
) -> None:
    """The server honoured `Range` for the first range, then answers one other with the whole
    file while the first is still arriving: that range is asked for again, nothing else
    changes, and no byte is counted twice."""
    add_big(fake_hub)
    held = Fault("hold", after=CHUNK, range_start=0)
    fake_hub.add_fault(BIG, held)
    fake_hub.add_fault(BIG, Fault("whole", range_start=2 * QUARTER))
    with downloading(fake_hub, hub_env, held) as finished:
        wait_for(lambda: starts(fake_hub).count(2 * QUARTER) == 2, "the range asked again")
    job, progress = finished()
    assert job.status is FileStatus.DOWNLOADED
    assert sorted(starts(fake_hub)) == [0, QUARTER, 2 * QUARTER, 2 * QUARTER, 3 * QUARTER]
    assert sum(progress.bytes) == job.received == SIZE
    assert max(itertools.accumulate(progress.bytes)) <= SIZE
    assert_stored(hub_env, fake_hub, job)


def test_a_range_always_answered_whole_beside_others_fails_and_names_it(
    fake_hub: FakeHub, hub_env: Path, small_segments: None
) -> None:
    """A range the server answers with the whole file at every attempt, while the first range
    is still arriving: the file fails after four attempts at it, saying so, and keeps the other
    three ranges for the next run."""
    add_big(fake_hub)
    held = Fault("hold", after=CHUNK, range_start=0)
    fake_hub.add_fault(BIG, held)
    fake_hub.add_fault(BIG, Fault("whole", range_start=2 * QUARTER), times=None)
    with downloading(fake_hub, hub_env, held) as finished:
        wait_for(lambda: starts(fake_hub).count(2 * QUARTER) == 4, "four attempts at the range")
    job, _ = finished()
    assert job.status is FileStatus.FAILED
    assert job.error == (f"{REPO} {BIG}: asked for bytes {2 * QUARTER}-{3 * QUARTER - 1}, the "
                         "Hub sent the whole file; 75 % kept, the next run resumes it")
    assert len(partials(hub_env)) == 1


def test_a_retry_answered_whole_starts_the_file_again_and_its_progress_goes_back(
    fake_hub: FakeHub, hub_env: Path
) -> None:
    """A file of one range is cut, and the retry's `Range` is ignored: the whole file comes
    from byte 0, the progress goes back to 0 first and ends at the file's size."""
    size = 3_000_000
    add_big(fake_hub, size)
    fake_hub.add_fault(BIG, Fault("cut", after=1_000_000))
    fake_hub.add_fault(BIG, Fault("whole"))
    job, progress = download_one(fake_hub, hub_env, BIG)
    assert job.status is FileStatus.DOWNLOADED and fake_hub.pending_faults() == 0
    assert [r.headers.get("range") is None for r in file_gets(fake_hub, BIG)] == [True, False]
    assert min(progress.bytes) < 0, "the progress went back"
    assert sum(progress.bytes) == job.received == size
    assert max(itertools.accumulate(progress.bytes)) <= size
    assert_stored(hub_env, fake_hub, job)
