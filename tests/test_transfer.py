"""Our byte transfer against the fake Hub: parallel ranges, servers that ignore `Range`, a range
failing midway, resume across runs, and sharing the cache with the real huggingface_hub."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
from pathlib import Path

import httpx2 as httpx
import huggingface_hub
import pytest

from scanner.fetch import partial as partial_mod
from scanner.fetch.jobs import FileJob, FileStatus
from scanner.fetch.partial import MIB, PartialFile, present_in
from scanner.hub.errors import file_response_error
from tests.downloads import (
    FOLDER,
    REPO,
    assert_identical,
    download_one,
    file_gets,
    partials,
    start_fetch,
    wait_for,
)
from tests.fakehub import CHUNK, FakeHub, Fault, GeneratedFile
from tests.helpers import invoke_command, llama_offline_lookup, run_fetch, suite_for

BIG = "big-Q4_K_M.gguf"
SIZE = 5 * MIB  # with 1 MiB segments and 4 connections: four ranges of 1.25 MiB


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranges from 1 MiB, so a 5 MiB file is split as a multi-GB one would be."""
    monkeypatch.setattr(partial_mod, "MIN_SEGMENT", MIB)


def add_big(hub_: FakeHub, size: int = SIZE) -> None:
    hub_.add_repo(REPO, {BIG: GeneratedFile(size, 7)})


def assert_stored(cache: Path, hub_: FakeHub, job: FileJob) -> None:
    """In the snapshot of the job's commit, as a link to its blob, byte-identical."""
    link = cache / FOLDER / "snapshots" / job.commit / BIG
    assert link.is_symlink() and link.read_bytes() == hub_.content(REPO, BIG)


def cut_then_down(hub_: FakeHub, after: int, starts: tuple[int | None, ...] = (None,)) -> None:
    """The first response of each range (by the byte it starts at; None: the first response of
    any) ends after `after` bytes, then the Hub answers 503: the file fails with bytes kept."""
    for start in starts:
        hub_.add_fault(BIG, Fault("cut", after=after, range_start=start), times=1)
    hub_.add_fault(BIG, Fault("status", code=503), times=None)


def ranges(hub_: FakeHub) -> list[str | None]:
    return sorted((r.headers.get("range") for r in file_gets(hub_, BIG)), key=str)


def test_a_large_file_is_fetched_as_parallel_ranges(
    fake_hub: FakeHub, hub_env: Path, small_segments: None
) -> None:
    add_big(fake_hub)
    fake_hub.rate_limit_bytes_per_s = 10_000_000  # every range is in flight at once
    job, progress = download_one(fake_hub, hub_env, BIG, connections=4)
    quarter = SIZE // 4
    assert ranges(fake_hub) == [f"bytes={i * quarter}-{(i + 1) * quarter - 1}" for i in range(4)]
    assert job.status is FileStatus.DOWNLOADED and job.received == SIZE == sum(progress.bytes)
    assert_stored(hub_env, fake_hub, job)
    assert partials(hub_env) == []


def test_a_server_ignoring_range_is_read_as_one_stream(
    fake_hub: FakeHub, hub_env: Path, small_segments: None
) -> None:
    """Every range request is answered 200 with the whole file: one stream takes over from
    byte 0, the others stop, and progress takes back what they had counted."""
    add_big(fake_hub)
    fake_hub.ignore_range = True
    fake_hub.rate_limit_bytes_per_s = 10_000_000
    job, progress = download_one(fake_hub, hub_env, BIG, connections=4)
    assert job.status is FileStatus.DOWNLOADED and progress.done == [None]
    assert sum(progress.bytes) == job.received == SIZE
    assert max(itertools.accumulate(progress.bytes)) <= SIZE
    assert_stored(hub_env, fake_hub, job)
    assert partials(hub_env) == []


def test_one_range_failing_midway_is_resumed_alone(
    fake_hub: FakeHub, hub_env: Path, small_segments: None
) -> None:
    add_big(fake_hub)
    quarter = SIZE // 4
    fake_hub.add_fault(BIG, Fault("reset", after=300_000, range_start=2 * quarter), times=1)
    fake_hub.rate_limit_bytes_per_s = 10_000_000
    job, _ = download_one(fake_hub, hub_env, BIG, connections=4)
    assert job.status is FileStatus.DOWNLOADED and fake_hub.pending_faults() == 0
    starts = sorted(int(str(r)[6:].split("-")[0]) for r in ranges(fake_hub))
    assert len(starts) == 5, "the other ranges ran once"
    (resumed,) = [s for s in starts if 2 * quarter < s < 3 * quarter]
    assert resumed <= 2 * quarter + 300_000, "resumed from the bytes that had arrived"
    assert job.received == SIZE, "no byte was received twice"
    assert_stored(hub_env, fake_hub, job)


def test_a_resumed_partial_meets_a_server_ignoring_range(
    fake_hub: FakeHub, hub_env: Path, small_segments: None
) -> None:
    """A partial from an earlier run, then a server that answers 200: the file is fetched
    whole, and the result is still checked and identical."""
    add_big(fake_hub)
    cut_then_down(fake_hub, after=200_000)
    job, _ = download_one(fake_hub, hub_env, BIG, connections=4)
    assert job.status is FileStatus.FAILED and "the next run resumes it" in (job.error or "")
    fake_hub.clear_faults()
    fake_hub.ignore_range = True
    fake_hub.reset_counts()
    job, progress = download_one(fake_hub, hub_env, BIG, connections=4)
    assert job.status is FileStatus.DOWNLOADED and progress.present[0] > 0
    # the earlier run's bytes came again: none of them counts as resumed (`--json`)
    assert (job.resumed, job.received) == (0, job.file.size)
    assert_stored(hub_env, fake_hub, job)
    assert partials(hub_env) == []


def test_ranges_follow_the_hubs_redirect_to_its_cdn_without_the_token(
    fake_hub: FakeHub, hub_env: Path, small_segments: None
) -> None:
    """The Hub answers an LFS file with a 302 to another origin: each range goes there with its
    `Range`, and the token stays with the Hub."""
    with FakeHub() as cdn:
        add_big(fake_hub)
        add_big(cdn)
        fake_hub.lfs_redirect = cdn.url
        job, _ = download_one(fake_hub, hub_env, BIG, fake_hub.valid_token, connections=4)
        assert job.status is FileStatus.DOWNLOADED
        assert len(ranges(fake_hub)) == 4 and ranges(cdn) == ranges(fake_hub)
        assert all(r.headers.get("authorization") for r in file_gets(fake_hub, BIG))
        assert not [r for r in cdn.requests if "authorization" in r.headers]
        assert_stored(hub_env, fake_hub, job)


def test_a_partial_leaves_huggingface_hubs_cache_scan_intact(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    small_segments: None,
) -> None:
    """`hf cache` (scan_cache_dir) still reads the cache, and counts our partial as an
    incomplete download (so `hf cache` can clean it)."""
    fake_hub.add_repo(REPO, {"done-Q8_0.gguf": GeneratedFile(1000, 1), BIG: GeneratedFile(SIZE, 7)})
    cut_then_down(fake_hub, after=100_000)
    root = suite_for(tmp_path / "p", f"{REPO}:Q8_0", f"{REPO}:Q4_K_M")
    code, _, _ = run_fetch(root, capsys)
    assert code == 1
    kept = [p for p in partials(hub_env) if p.name.endswith(".resume.incomplete")]
    assert len(kept) == 1 and present_in(kept[0], SIZE, fake_hub.sha256(REPO, BIG)) > 0
    info = huggingface_hub.scan_cache_dir(hub_env)
    assert info.warnings == []
    assert [r.repo_id for r in info.repos] == [REPO]
    assert [f.file_path for f in info.incomplete_files] == kept


@pytest.mark.slow
def test_killed_mid_file_the_rerun_asks_only_for_what_is_missing(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """A 40 MB file in three 16 MiB ranges; SIGKILL once 40 % is recorded; the rerun's ranges
    start where each record stopped and add up to at most 60 % of the file."""
    size = 40_000_000
    add_big(fake_hub, size)
    sha = fake_hub.sha256(REPO, BIG)
    partial = hub_env / FOLDER / "blobs" / f"{sha}.resume.incomplete"
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M")
    fake_hub.rate_limit_bytes_per_s = 4_000_000
    killed = start_fetch(root, hub_env)
    wait_for(lambda: present_in(partial, size, sha) >= 0.4 * size, "40 % of the file", 60)
    killed.kill()
    killed.communicate(timeout=10)
    kept = present_in(partial, size, sha)
    fake_hub.rate_limit_bytes_per_s = None
    fake_hub.reset_counts()
    rerun = subprocess.run(invoke_command("models.fetch", "--root", str(root), "--json"),
                           env=dict(os.environ, HF_HUB_CACHE=str(hub_env)),
                           capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    (entry,) = json.loads(rerun.stdout)["models"][0]["files"]
    assert (entry["status"], entry["resumed"], entry["received"]) == (
        "downloaded", kept, size - kept)
    asked = []
    for header in ranges(fake_hub):
        assert header is not None, "a range started from byte 0 again"
        first, last = (int(n) for n in header[6:].split("-"))
        asked.append(last - first + 1)
    assert len(asked) == 3 and sum(asked) == size - kept <= 0.6 * size
    assert_identical(hub_env, fake_hub, BIG)
    assert partials(hub_env) == []


@pytest.mark.slow
@pytest.mark.parametrize("first", ["ours", "huggingface_hub"])
def test_huggingface_hub_downloading_the_same_file_waits_for_us_and_we_for_it(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, first: str
) -> None:
    """One body GET in total, whoever starts first: both take the blob's lock in
    `.locks/`, and the second finds the blob when it gets it."""
    add_big(fake_hub, 6_000_000)
    fake_hub.rate_limit_bytes_per_s = 3_000_000
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M")
    result: list[str] = []

    def hf_download() -> None:
        result.append(huggingface_hub.hf_hub_download(
            REPO, BIG, revision=fake_hub.commit(REPO), cache_dir=hub_env,
            endpoint=fake_hub.url))

    other = threading.Thread(target=hf_download)
    if first == "ours":
        ours = start_fetch(root, hub_env)
        wait_for(lambda: file_gets(fake_hub, BIG), "our download to start")
        other.start()
        out, err = ours.communicate(timeout=60)
    else:  # huggingface_hub's download held until ours waits for its lock (no clock involved)
        hold = Fault("hold", after=CHUNK * 4)
        fake_hub.add_fault(BIG, hold)
        other.start()
        wait_for(lambda: partials(hub_env), "huggingface_hub's download to start")
        ours = start_fetch(root, hub_env)
        assert ours.stdout is not None
        said = []
        for line in ours.stdout:
            said.append(line)
            if line.startswith("waiting "):
                break
        hold.release.set()
        out, err = ours.communicate(timeout=60)
        out = "".join(said) + out
    other.join(timeout=60)
    assert ours.returncode == 0, out + err
    assert len(file_gets(fake_hub, BIG)) == 1, "the file was downloaded twice"
    assert Path(result[0]).read_bytes() == fake_hub.content(REPO, BIG)
    assert llama_offline_lookup(hub_env, REPO, BIG) == fake_hub.content(REPO, BIG)
    received = "downloaded 0 B" if first == "huggingface_hub" else "downloaded 6.0 MB"
    assert received in out
    waited = f"waiting    {REPO} {BIG}: another process is downloading it (.locks/models--"
    assert (waited in out) == (first == "huggingface_hub"), out
    assert partials(hub_env) == []


def test_an_empty_file_is_stored_without_a_request(fake_hub: FakeHub, hub_env: Path) -> None:
    fake_hub.add_repo(REPO, {"empty.gguf": b"", BIG: GeneratedFile(1000, 1)})
    job, progress = download_one(fake_hub, hub_env, "empty.gguf")
    assert job.status is FileStatus.DOWNLOADED and progress.done == [None]
    assert file_gets(fake_hub, "empty.gguf") == []
    link = hub_env / FOLDER / "snapshots" / job.commit / "empty.gguf"
    assert link.is_symlink() and link.read_bytes() == b""


def test_two_paths_with_the_same_content_are_fetched_once(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One blob, one lock: the second path waits for the first and links the same blob."""
    same = GeneratedFile(2_000_000, 5)
    fake_hub.add_repo(REPO, {"a/m-Q4_K_M.gguf": same, "b/m-Q8_0.gguf": same})
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M", f"{REPO}:Q8_0"), capsys)
    assert code == 0, out
    assert fake_hub.count("GET", "resolve") == 1
    for path in ("a/m-Q4_K_M.gguf", "b/m-Q8_0.gguf"):
        assert llama_offline_lookup(hub_env, REPO, path) == fake_hub.content(REPO, path)


def test_after_a_lost_connection_the_rerun_asks_only_for_the_rest(
    fake_hub: FakeHub, hub_env: Path, small_segments: None
) -> None:
    """Each range's response breaks after 200 kB, then the Hub answers 503: the file fails with
    its bytes kept; once the network is back, each range resumes where its record stopped."""
    add_big(fake_hub)
    quarter = SIZE // 4
    cut_then_down(fake_hub, after=200_000, starts=tuple(i * quarter for i in range(4)))
    failed, _ = download_one(fake_hub, hub_env, BIG, connections=4)
    assert failed.status is FileStatus.FAILED and failed.received == 4 * 200_000
    fake_hub.clear_faults()
    fake_hub.reset_counts()
    job, progress = download_one(fake_hub, hub_env, BIG, connections=4)
    assert job.status is FileStatus.DOWNLOADED
    assert progress.present == [failed.received] and job.resumed == failed.received
    assert job.received == SIZE - failed.received, "no byte of the first run asked again"
    starts = sorted(int(str(r)[6:].split("-")[0]) for r in ranges(fake_hub))
    assert len(starts) == 4 and all(i * quarter < s for i, s in enumerate(starts))
    assert_stored(hub_env, fake_hub, job)


def test_a_file_answered_with_an_html_page_fails_and_leaves_nothing(
    fake_hub: FakeHub, hub_env: Path
) -> None:
    """A captive portal or a proxy's login page instead of the bytes: named, not retried,
    and no empty partial is left (there is nothing to resume)."""
    add_big(fake_hub)
    fake_hub.add_fault(BIG, Fault("html"), times=None)
    job, _ = download_one(fake_hub, hub_env, BIG)
    assert job.status is FileStatus.FAILED
    assert job.error == (f"{REPO} {BIG}: the endpoint answered an HTML page, not the file: is a "
                         "proxy or a captive portal in the way?")
    assert len(file_gets(fake_hub, BIG)) == 1 and partials(hub_env) == []


def test_a_partial_of_ours_goes_when_another_process_stored_the_file(
    fake_hub: FakeHub, hub_env: Path
) -> None:
    add_big(fake_hub)
    sha = fake_hub.sha256(REPO, BIG)
    partial = hub_env / FOLDER / "blobs" / f"{sha}.resume.incomplete"
    left = PartialFile.open(partial, SIZE, sha, 16 * MIB)
    left.write(0, b"x" * 10)
    left.record(0, 10)
    left.close()
    huggingface_hub.hf_hub_download(REPO, BIG, revision=fake_hub.commit(REPO),
                                    cache_dir=hub_env, endpoint=fake_hub.url)
    fake_hub.reset_counts()
    job, _ = download_one(fake_hub, hub_env, BIG)
    assert job.status is FileStatus.CACHED and (job.received, job.resumed) == (0, 0)
    assert file_gets(fake_hub, BIG) == [] and not partial.exists()
    assert_stored(hub_env, fake_hub, job)


@pytest.mark.parametrize(("content_range", "problem"), [
    ("bytes 5-9/10", None),
    ("bytes 5-9/*", None),  # a total the server does not know
    ("bytes 0-9/10", "asked for bytes from 5, the Hub sent bytes 0-9/10 (listed size 10)"),
    ("bytes 5-9/11", "asked for bytes from 5, the Hub sent bytes 5-9/11 (listed size 10)"),
    ("", "asked for bytes from 5, the Hub sent no Content-Range (listed size 10)"),
])
def test_a_range_answer_must_hold_the_bytes_asked_for(content_range: str,
                                                      problem: str | None) -> None:
    """A 206 with other bytes, or bytes of a file of another size, is never written in."""
    headers = {"content-range": content_range} if content_range else {}
    error = file_response_error(httpx.Response(206, headers=headers), 5, 10, "org/m m.gguf",
                                has_token=False)
    if problem is None:
        assert error is None
    else:
        assert error is not None and error.kind == "integrity"
        assert str(error) == f"org/m m.gguf: {problem}"
