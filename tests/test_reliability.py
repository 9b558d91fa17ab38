"""`models.fetch` under faults, interruptions and concurrency, against the fake Hub.

Each test injects one kind of trouble and checks what a user would see: exit code, message,
and a cache whose files are byte-identical to the Hub's (or absent, never half-written).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from rich.console import Console

from scanner.fetch.download import FetchInterrupted, download_all
from scanner.fetch.jobs import INTERRUPTED, FetchSettings, FileJob, FileStatus
from scanner.fetch.partial import present_in
from scanner.hub import client as hub
from scanner.hub import errors as hub_errors
from scanner.models import RepoFile
from scanner.output.console import human_size
from scanner.output.progress import FetchProgress
from tests.downloads import (
    FOLDER,
    MODEL,
    REPO,
    assert_identical,
    download_one,
    fetch_command,
    file_gets,
    partials,
    start_fetch,
    wait_for,
)
from tests.fakehub import FakeHub, Fault, GeneratedFile
from tests.helpers import llama_offline_lookup, run_fetch, suite_for

OTHER_SHA = hashlib.sha256(b"not the content").hexdigest()


def add_model_repo(hub_: FakeHub, size: int = 3_000_000) -> None:
    hub_.add_repo(REPO, {MODEL: GeneratedFile(size, 21), "m-Q8_0.gguf": GeneratedFile(50_000, 22)})


def assert_nothing_cached(cache: Path, path: str = MODEL, *, partial_kept: bool = False) -> None:
    """A rejected file leaves no snapshot entry and no blob; a partial only when the next run
    can resume it (a transfer that broke off), never after a content mismatch."""
    folder = cache / FOLDER
    assert not [p for p in (folder / "snapshots").rglob("*") if p.name == path]
    blobs = folder / "blobs"
    names = [p.name for p in blobs.iterdir()] if blobs.exists() else []
    assert not [n for n in names if not n.endswith(".incomplete")], "a rejected blob is left"
    kept = [n for n in names if n.endswith(".resume.incomplete")]
    assert len(kept) == (1 if partial_kept else 0) and len(partials(cache)) == len(kept)


# -- transport faults: recovered, byte-identical ---------------------------------------------

def test_body_cut_short_is_resumed_from_where_it_stopped(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_model_repo(fake_hub)
    fake_hub.add_fault(MODEL, Fault("cut", after=2_500_000), times=1)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys)
    assert code == 0, out
    assert_identical(hub_env, fake_hub)
    first, second = file_gets(fake_hub)
    assert "range" not in first.headers
    assert second.headers["range"] == "bytes=2500000-2999999", "the retry asks for the tail only"
    assert partials(hub_env) == []


def test_connection_reset_mid_stream_is_retried(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_model_repo(fake_hub)
    fake_hub.add_fault(MODEL, Fault("reset", after=1_000_000), times=1)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys)
    assert code == 0, out
    assert len(file_gets(fake_hub)) == 2 and fake_hub.pending_faults() == 0
    assert_identical(hub_env, fake_hub)
    assert partials(hub_env) == []


def test_progress_counts_each_byte_once_when_a_download_resumes(
    fake_hub: FakeHub, hub_env: Path
) -> None:
    """A reset connection resumes where it stopped: progress never passes 100 %."""
    add_model_repo(fake_hub)
    fake_hub.add_fault(MODEL, Fault("reset", after=2_500_000), times=1)
    fake_hub.rate_limit_bytes_per_s = 30_000_000  # the client reads what came before the reset
    job, progress = download_one(fake_hub, hub_env)
    assert len(file_gets(fake_hub)) == 2, "expected one resume"
    assert job.status is FileStatus.DOWNLOADED and progress.done == [None]
    assert sum(progress.bytes) == job.received == job.file.size
    assert max(itertools.accumulate(progress.bytes)) <= job.file.size


def test_progress_bars_go_back_on_a_restart_without_a_negative_speed() -> None:
    progress = FetchProgress(Console(file=io.StringIO(), force_terminal=True), 3_000_000, "bars")
    advance, _ = progress.file_started(MODEL, 3_000_000, 0)
    advance(2_000_000)
    advance(-2_000_000)  # reported when a server ignores Range and one stream starts again
    advance(1_000_000)
    assert progress._progress is not None
    bars = progress._progress.tasks
    assert [bar.completed for bar in bars] == [1_000_000, 1_000_000]  # total, then the file
    assert all((bar.speed or 0) >= 0 for bar in bars)


def test_server_errors_a_few_times_then_success(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    add_model_repo(fake_hub)
    # Faults on one path apply in order: the file's GET fails three times, each differently.
    for status in (500, 502, 503):
        fake_hub.add_fault(MODEL, Fault("status", code=status), times=1)
    fake_hub.add_fault(f"/api/models/{REPO}/refs", Fault("status", code=503), times=2)
    fake_hub.add_fault(f"/api/models/{REPO}/tree/", Fault("status", code=502), times=1)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys)
    assert code == 0, out
    assert fake_hub.pending_faults() == 0
    assert len(file_gets(fake_hub)) == 4
    assert_identical(hub_env, fake_hub)


def test_a_file_failing_every_attempt_fails_only_its_model_after_four(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add_repo("org/ok", {"ok-Q4_K_M.gguf": GeneratedFile(10_000, 1)})
    fake_hub.add_repo("org/down", {"d-Q4_K_M.gguf": GeneratedFile(10_000, 2)})
    fake_hub.add_repo("org/reset", {"r-Q4_K_M.gguf": GeneratedFile(300_000, 3)})
    fake_hub.add_fault("d-Q4_K_M.gguf", Fault("status", code=500), times=None)
    fake_hub.add_fault("r-Q4_K_M.gguf", Fault("reset", after=0), times=None)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", "org/ok", "org/down", "org/reset"), capsys)
    assert code == 1
    assert [len(file_gets(fake_hub, name)) for name in ("d-Q4_K_M.gguf", "r-Q4_K_M.gguf")] == [4, 4]
    assert "FAILED org/down" in out and "Hub server error (HTTP 500)" in out
    assert "FAILED org/reset" in out and "the connection to the Hub broke" in out
    assert llama_offline_lookup(hub_env, "org/ok", "ok-Q4_K_M.gguf") == fake_hub.content(
        "org/ok", "ok-Q4_K_M.gguf")


@pytest.mark.slow
def test_rate_limit_waits_for_retry_after(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_model_repo(fake_hub)
    fake_hub.add_fault(f"/api/models/{REPO}/tree/", Fault("status", 429, retry_after=1), 1)
    fake_hub.add_fault(MODEL, Fault("status", code=429, retry_after=1), times=1)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys)
    assert code == 0, out
    trees = [r for r in fake_hub.requests if r.kind == "tree"]
    gets = file_gets(fake_hub)
    assert len(trees) == 2 and len(gets) == 2
    assert trees[1].at - trees[0].at >= 1.0, "the listing was retried before Retry-After"
    assert gets[1].at - gets[0].at >= 1.0, "the download was retried before Retry-After"
    assert_identical(hub_env, fake_hub)


def test_response_slower_than_the_read_timeout_is_abandoned_and_resumed(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    add_model_repo(fake_hub)
    fake_hub.add_fault(MODEL, Fault("slow", seconds=6), times=1)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys, timeout=1)
    assert code == 0, out
    first, second = file_gets(fake_hub)
    assert second.at - first.at < 4, "the stalled response was waited for, not timed out"
    assert_identical(hub_env, fake_hub)


# -- content that is not what the Hub advertised: rejected, nothing kept ---------------------

@pytest.mark.parametrize("how", ["bytes corrupted in transit", "listing advertises another oid"])
def test_content_not_matching_the_advertised_sha256_is_rejected(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    how: str,
) -> None:
    add_model_repo(fake_hub)
    if how.startswith("bytes"):
        fake_hub.add_fault(MODEL, Fault("corrupt", offset=1_500_000, count=3), times=None)
    else:
        entries = fake_hub.file_entries(REPO)
        entries[0]["lfs"]["oid"] = OTHER_SHA
        fake_hub.override_tree(REPO, entries)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys)
    assert code == 1
    cause = out[out.index(f"FAILED {REPO}:Q4_K_M"):]
    assert f"{MODEL}: content does not match the Hub's sha256" in cause
    assert_nothing_cached(hub_env)
    assert not list((hub_env / FOLDER / "snapshots").rglob("*.gguf")), "a model file is left"


def test_a_body_shorter_than_the_file_fails_and_keeps_what_came(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Every response ends 1000 bytes early (Content-Length agreeing): the first brings all but
    those, then 4 attempts for them bring nothing (an empty body each), then the model fails;
    the bytes stay for the next run."""
    add_model_repo(fake_hub)
    fake_hub.add_fault(MODEL, Fault("wrong_length", delta=-1000), times=None)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys, json=True)
    assert code == 1
    model = json.loads(out)["models"][0]
    assert model["status"] == "failed"
    assert model["error"] == (f"{REPO} {MODEL}: the Hub sent less than the listed size "
                              "(3000000 bytes): the response ended at byte 2999000; 99 % kept, "
                              "the next run resumes it")
    assert_nothing_cached(hub_env, partial_kept=True)
    gets = file_gets(fake_hub)
    assert [g.headers.get("range") for g in gets] == [None] + ["bytes=2999000-2999999"] * 4


#: A file of a few hundred kB (one byte range), as a flaky proxy cuts it.
FLAKY_SIZE = 470_000


def gets_start(hub_: FakeHub) -> list[int]:
    """The byte each GET of MODEL asked to start at (0: the whole file)."""
    return [int(g.headers.get("range", "bytes=0-")[6:].partition("-")[0])
            for g in file_gets(hub_)]


def test_a_proxy_cutting_every_response_still_delivers_the_file(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Each response ends after 100 kB: every attempt brings new bytes, so none counts towards
    the 4 without progress; the fifth completes the file."""
    add_model_repo(fake_hub, FLAKY_SIZE)
    fake_hub.add_fault(MODEL, Fault("cut", after=100_000), times=None)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys)
    assert code == 0, out
    assert gets_start(fake_hub) == [0, 100_000, 200_000, 300_000, 400_000]
    assert_identical(hub_env, fake_hub)
    assert partials(hub_env) == []


def test_attempts_without_progress_fail_after_four_once_the_bytes_stop(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Two responses bring 100 kB each, then the Hub answers 500: four attempts more, counted
    from the last that brought bytes, and the bytes are kept."""
    add_model_repo(fake_hub, FLAKY_SIZE)
    fake_hub.add_fault(MODEL, Fault("cut", after=100_000), times=2)
    fake_hub.add_fault(MODEL, Fault("status", code=500), times=None)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys, json=True)
    assert code == 1
    assert gets_start(fake_hub) == [0, 100_000] + [200_000] * 4
    assert json.loads(out)["models"][0]["error"] == (
        f"{REPO} {MODEL}: Hub server error (HTTP 500); 42 % kept, the next run resumes it")
    assert_nothing_cached(hub_env, partial_kept=True)


def test_an_attempt_that_brings_bytes_starts_the_count_and_the_backoff_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two failures without a byte, one with, then four without: seven attempts, and the wait
    after the one with bytes is the first wait again."""
    waits: list[float] = []
    monkeypatch.setattr(hub, "_pause", lambda seconds, cancel: waits.append(seconds))
    written = iter([0, 0, 0, 5, 5, 5, 5, 5])  # before the first attempt, then after each
    calls = 0

    def attempt() -> None:
        nonlocal calls
        calls += 1
        raise hub_errors.HubError("unreachable", "the connection to the Hub broke")

    with pytest.raises(hub_errors.HubError):
        hub.with_retries(attempt, attempts=4, backoff=1,
                         classify_error=lambda exc: hub_errors.classify(exc, REPO),
                         cancel=threading.Event(), progress=lambda: next(written), total=20)
    assert calls == 7
    assert waits == [1, 2, 1, 1, 2, 4]


@pytest.mark.parametrize(("flags", "tries"), [({}, 20), ({"tries": 3}, 3)],
                         ids=["default", "--tries 3"])
def test_a_server_trickling_a_byte_per_response_is_bounded_by_tries(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    flags: dict[str, int], tries: int,
) -> None:
    """Every response brings one byte: each is progress, so only `--tries` ends it."""
    add_model_repo(fake_hub, 100)
    fake_hub.add_fault(MODEL, Fault("cut", after=1), times=None)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys, json=True,
                             **flags)
    assert code == 1
    assert gets_start(fake_hub) == list(range(tries))
    error = json.loads(out)["models"][0]["error"]
    assert error.startswith(f"{REPO} {MODEL}: the Hub's response ended before its advertised "
                            "size (")
    assert error.endswith(f"; {tries} % kept, the next run resumes it")  # of 100 bytes


def test_a_content_length_longer_than_the_file_is_read_to_the_listed_size(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Only the listed size is read; the content check decides (here: the right bytes)."""
    add_model_repo(fake_hub)
    fake_hub.add_fault(MODEL, Fault("wrong_length", delta=1000), None)
    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys)
    assert code == 0, out
    assert_identical(hub_env, fake_hub)
    assert len(file_gets(fake_hub)) == 1 and partials(hub_env) == []


# -- listings that do not match the repo, or try to escape it --------------------------------

def test_a_listed_file_missing_on_the_hub_fails_only_its_model(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add_repo(REPO, {"m-Q4_K_M-00001-of-00002.gguf": GeneratedFile(20_000, 1),
                             "m-Q8_0.gguf": GeneratedFile(30_000, 2)})
    entries = fake_hub.file_entries(REPO)
    ghost = dict(entries[0], path="m-Q4_K_M-00002-of-00002.gguf",
                 lfs=dict(entries[0]["lfs"], oid=OTHER_SHA))  # another blob: no cached copy
    fake_hub.override_tree(REPO, [entries[0], ghost, entries[1]])
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M", f"{REPO}:Q8_0")
    code, out, _ = run_fetch(root, capsys, json=True)
    assert code == 1
    models = {m["hf_repo"]: m for m in json.loads(out)["models"]}
    assert models[f"{REPO}:Q8_0"]["status"] == "downloaded"
    failed = models[f"{REPO}:Q4_K_M"]
    assert failed["status"] == "failed"
    assert failed["error"] == (f"{REPO} m-Q4_K_M-00002-of-00002.gguf: file not found in the "
                               "repo (HTTP 404)")
    assert_identical(hub_env, fake_hub, "m-Q8_0.gguf")


HOSTILE_PATHS = [
    "../../escape-Q4_K_M.gguf", "/tmp/absolute-Q4_K_M.gguf", "sub/../../../up-Q4_K_M.gguf",
    "nul\0-Q4_K_M.gguf", "esc\x1b[2J-Q4_K_M.gguf", "back\\..\\slash-Q4_K_M.gguf",
]


def test_listing_entries_escaping_the_repo_or_with_bad_ids_are_refused(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add_repo(REPO, {"good-Q4_K_M.gguf": GeneratedFile(20_000, 3)})
    good = fake_hub.file_entries(REPO)[0]
    hostile = [dict(good, path=path) for path in HOSTILE_PATHS]  # listed first: first match wins
    bad_oid = dict(good, path="bad-Q8_0.gguf", lfs=dict(good["lfs"], oid="../../x"))
    bad_git = {"type": "file", "path": "notes.txt", "size": 3, "oid": "zz"}
    fake_hub.override_tree(REPO, [*hostile, bad_oid, bad_git, good])
    before = set(tmp_path.rglob("*"))
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M", f"{REPO}:Q8_0")
    code, out, err = run_fetch(root, capsys, json=True)
    assert code == 1
    document = json.loads(out)
    models = {m["hf_repo"]: m for m in document["models"]}
    assert [f["path"] for f in models[f"{REPO}:Q4_K_M"]["files"]] == ["good-Q4_K_M.gguf"]
    assert models[f"{REPO}:Q4_K_M"]["status"] == "downloaded"
    assert models[f"{REPO}:Q8_0"]["status"] == "failed"
    assert "Q8_0" in models[f"{REPO}:Q8_0"]["error"]
    problems = document["listing_problems"]
    assert len(problems) == len(HOSTILE_PATHS) + 2
    assert all(p.startswith(f"{REPO}: listing entry ") and " refused: " in p for p in problems)
    assert "\x1b" not in out + err and "\0" not in out + err
    written = {p for p in set(tmp_path.rglob("*")) - before if not p.is_dir()}
    outside = [p for p in written if not p.is_relative_to(tmp_path / "p")
               and not any(part in p.parts for part in (FOLDER, ".locks", "CACHEDIR.TAG"))]
    assert outside == []
    assert [p.name for p in written if "Q4_K_M" in p.name] == ["good-Q4_K_M.gguf"]
    assert {r.path.rsplit("/", 1)[-1] for r in fake_hub.requests if r.kind == "resolve"} == \
        {"good-Q4_K_M.gguf"}


# -- the token -------------------------------------------------------------------------------

SECRET = "hf_" + "Sup3rS3cr3tT0ken" * 2


@pytest.mark.slow
def test_token_never_appears_in_output_logs_or_errors(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_hub.valid_token = SECRET
    fake_hub.add_repo("org/ok", {"ok-Q4_K_M.gguf": GeneratedFile(10_000, 1)}, gated=True)
    fake_hub.add_repo("org/down", {"d-Q4_K_M.gguf": GeneratedFile(10_000, 2)})
    fake_hub.add_repo("org/reset", {"r-Q4_K_M.gguf": GeneratedFile(300_000, 3)})
    fake_hub.add_repo("org/bad", {"b-Q4_K_M.gguf": GeneratedFile(10_000, 4)})
    fake_hub.add_repo("org/denied", {"x-Q4_K_M.gguf": GeneratedFile(10_000, 5)})
    fake_hub.add_fault("d-Q4_K_M.gguf", Fault("status", code=503), times=None)
    fake_hub.add_fault("r-Q4_K_M.gguf", Fault("reset", after=0), times=None)
    fake_hub.add_fault("b-Q4_K_M.gguf", Fault("corrupt"), times=None)
    fake_hub.add_fault("x-Q4_K_M.gguf", Fault("status", code=403), None)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    root = suite_for(tmp_path / "p", "org/ok", "org/down", "org/reset", "org/bad", "org/denied",
                     "org/missing")
    texts = []
    for flags in ({}, {"json": True}):
        code, out, err = run_fetch(root, capsys, **flags)
        assert code == 1
        texts += [out, err]
    assert all(r.headers.get("authorization") == f"Bearer {SECRET}"
               for r in fake_hub.requests if r.kind != "other"), "the token was not sent"
    failed = {m["hf_repo"]: m["error"] for m in json.loads(texts[2])["models"] if m["error"]}
    assert set(failed) == {"org/down", "org/reset", "org/bad", "org/denied", "org/missing"}
    run = subprocess.run(fetch_command(root, "--json"), env=dict(os.environ),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    for text in (*texts, caplog.text, run.stdout, run.stderr, *failed.values()):
        assert SECRET not in text


# -- interruptions and concurrency (real processes) ------------------------------------------


def big_repo(hub_: FakeHub, count: int, size: int) -> list[str]:
    """`count` single-file models of `size` bytes in one repo; returns their `org/name:TAG`s."""
    tags = ["Q4_K_M", "Q8_0", "Q5_K_M", "Q6_K"][:count]
    hub_.add_repo(REPO, {f"m-{t}.gguf": GeneratedFile(size, i) for i, t in enumerate(tags)})
    return [f"{REPO}:{t}" for t in tags]


def test_only_partials_no_live_process_is_writing_are_removed(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_model_repo(fake_hub)
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M")
    assert run_fetch(root, capsys)[0] == 0
    blobs = hub_env / FOLDER / "blobs"
    stale = blobs / f"{'a' * 64}.0badf00d.incomplete"
    live = blobs / f"{'b' * 64}.c0ffee00.incomplete"
    llama = blobs / f"{'c' * 64}.downloadInProgress"  # llama.cpp's, which it resumes
    for partial in (stale, live, llama):
        partial.write_bytes(b"x" * 1000)
    writer = FileLock(hub_env / ".locks" / FOLDER / f"{'b' * 64}.lock")
    with writer:  # as huggingface_hub holds it while it writes `live`
        code, out, _ = run_fetch(root, capsys)
    assert code == 0, out
    assert (stale.exists(), live.exists(), llama.exists()) == (False, True, True)
    assert "removed 1 partial download(s) huggingface_hub left (1.0 kB)" in out


def test_a_partial_of_content_the_hub_replaced_goes_once_the_rerun_lists_the_repo(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Hub changed a file (new bytes, new sha256) after a run was cut off: nothing will
    resume the old partial, so the rerun removes it; a partial of a file the repo still lists
    (another model needs it), and one in a repo this run did not plan, stay."""
    add_model_repo(fake_hub)
    for path, kept in ((MODEL, 800_000), ("m-Q8_0.gguf", 40_000)):  # cut once, then down
        fake_hub.add_fault(path, Fault("cut", after=kept), times=1)
        fake_hub.add_fault(path, Fault("status", code=503), times=None)
    both = suite_for(tmp_path / "both", f"{REPO}:Q4_K_M", f"{REPO}:Q8_0")
    assert run_fetch(both, capsys)[0] == 1
    old_sha, q8_sha = fake_hub.sha256(REPO, MODEL), fake_hub.sha256(REPO, "m-Q8_0.gguf")
    blobs = hub_env / FOLDER / "blobs"
    old, q8 = (blobs / f"{sha}.resume.incomplete" for sha in (old_sha, q8_sha))
    assert present_in(old, 3_000_000, old_sha) == 800_000, "the bytes that came are kept"
    assert present_in(q8, 50_000, q8_sha) == 40_000
    on_disk = os.stat(old).st_blocks * 512  # sparse: what removing it frees
    elsewhere = hub_env / "models--org--other" / "blobs" / f"{'e' * 64}.resume.incomplete"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_bytes(b"x" * 1000)
    fake_hub.clear_faults()
    fake_hub.add_repo(REPO, {MODEL: GeneratedFile(3_000_000, 99),
                             "m-Q8_0.gguf": GeneratedFile(50_000, 22)})
    assert fake_hub.sha256(REPO, MODEL) != old_sha

    code, out, _ = run_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), capsys)
    assert code == 0, out
    assert_identical(hub_env, fake_hub)
    assert "removed 1 partial download(s) of file content the repo no longer lists " \
           f"({human_size(on_disk)}): the Hub changed the file since" in out
    assert not old.exists(), "the old content's partial, with its record, is gone"
    assert [p.name for p in blobs.glob("*.resume.incomplete")] == [q8.name]
    assert elsewhere.exists()


@pytest.mark.slow
def test_sigkill_mid_download_then_rerun_resumes_where_the_record_says(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    root = suite_for(tmp_path / "p", *big_repo(fake_hub, 1, 8_000_000))
    fake_hub.rate_limit_bytes_per_s = 2_000_000
    sha = fake_hub.sha256(REPO, "m-Q4_K_M.gguf")
    partial = hub_env / FOLDER / "blobs" / f"{sha}.resume.incomplete"
    killed = start_fetch(root, hub_env)
    wait_for(lambda: present_in(partial, 8_000_000, sha) >= 3_200_000, "40 % of the file")
    killed.kill()
    killed.communicate(timeout=10)
    kept = present_in(partial, 8_000_000, sha)
    assert kept >= 3_200_000, "SIGKILL keeps the partial and its record"
    fake_hub.rate_limit_bytes_per_s = None
    fake_hub.reset_counts()
    started = time.monotonic()
    rerun = subprocess.run(fetch_command(root), env=dict(os.environ, HF_HUB_CACHE=str(hub_env)),
                           capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert time.monotonic() - started < 15, "the killed run's lock held up the rerun"
    assert_identical(hub_env, fake_hub, "m-Q4_K_M.gguf")
    assert partials(hub_env) == [], "the partial file is still on disk"
    assert "resuming   org/rel-GGUF m-Q4_K_M.gguf: " in rerun.stdout
    assert f"to download: 1 files, 8.0 MB ({kept / 1e6:.1f} MB of it received by an earlier " \
           "run: resumed)" in rerun.stdout
    (get,) = file_gets(fake_hub, "m-Q4_K_M.gguf")
    assert get.headers["range"] == f"bytes={kept}-7999999", "only the missing bytes are asked"


@pytest.mark.slow
def test_two_fetches_on_one_cache_download_each_file_once(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    models = big_repo(fake_hub, 3, 3_000_000)
    root = suite_for(tmp_path / "p", *models)
    fake_hub.rate_limit_bytes_per_s = 3_000_000
    runs = [start_fetch(root, hub_env) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert fake_hub.count("GET", "resolve") == 3, "a file was downloaded twice"
    reported = [float(m[1]) for out, _ in outputs
                for m in [re.search(r"; downloaded ([\d.]+) (?:MB|B) in", out)] if m]
    assert len(reported) == 2 and sum(reported) == 9.0, "each run reports what it received"
    for model in models:
        assert_identical(hub_env, fake_hub, f"m-{model.rsplit(':', 1)[1]}.gguf")
    blobs = sorted(p.name for p in (hub_env / FOLDER / "blobs").iterdir())
    assert blobs == sorted(fake_hub.sha256(REPO, f"m-{m.rsplit(':', 1)[1]}.gguf") for m in models)
    assert partials(hub_env) == []


@pytest.mark.slow
def test_ctrl_c_stops_in_flight_downloads_promptly_and_keeps_their_partials(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    root = suite_for(tmp_path / "p", *big_repo(fake_hub, 4, 16_000_000))
    fake_hub.rate_limit_bytes_per_s = 1_000_000
    run = start_fetch(root, hub_env)
    wait_for(lambda: [present_in(p, 16_000_000, p.name.split(".")[0]) > 0
                      for p in partials(hub_env)] == [True] * 4, "4 downloads in flight")
    sent = time.monotonic()
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert time.monotonic() - sent < 5, "Ctrl-C waited for the downloads to finish"
    assert run.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    assert "partial files kept: the next run resumes them" in err
    assert [p.name.endswith(".resume.incomplete") for p in partials(hub_env)] == [True] * 4
    snapshots = hub_env / FOLDER / "snapshots"
    assert not snapshots.exists() or [p for p in snapshots.rglob("*") if p.is_file()] == []


class SlowToStopClient:
    """Stands in for `HubClient`: a response streams until cancelled, then takes `cleanup_s`
    to close, as a socket read does that is stuck until its timeout."""

    token = None

    def __init__(self, cleanup_s: float) -> None:
        self.cleanup_s = cleanup_s
        self.cleaned: list[str] = []
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def file_url(self, repo: str, commit: str, path: str) -> str:
        return path

    def file_headers(self) -> dict[str, str]:
        return {}

    def request(self, call: Callable[[], Any], repo: str, path: str,
                progress: Callable[[], int] | None = None) -> Any:
        return call()

    @contextlib.contextmanager
    def stream(self, url: str, headers: dict[str, str]) -> Iterator[Any]:
        self._cancel.wait()
        time.sleep(self.cleanup_s)
        self.cleaned.append(url)
        raise hub_errors.Cancelled("interrupted")
        yield  # a generator, for contextmanager


def test_ctrl_c_inside_a_join_still_waits_for_the_worker_to_clean_up(tmp_path: Path) -> None:
    """Ctrl-C landing inside `Thread.join()` makes CPython before 3.13 report the joined, still
    running thread as finished (python/cpython#90882): the run exited while that worker's
    partial file was still open and its lock held."""
    client = SlowToStopClient(cleanup_s=0.5)
    job = FileJob(repo=REPO, commit="0" * 40, status=FileStatus.DOWNLOAD,
                  file=RepoFile(path=MODEL, size=1, oid="1" * 40))
    settings = FetchSettings(cache=tmp_path, endpoint="http://127.0.0.1:9", token=None, jobs=1)
    progress = FetchProgress(Console(file=io.StringIO()), 1, "quiet")
    ctrl_c = threading.Timer(0.3, signal.pthread_kill, (threading.get_ident(), signal.SIGINT))
    ctrl_c.start()
    with pytest.raises(FetchInterrupted, match="partial files kept"):
        download_all([job], client, settings, progress)  # type: ignore[arg-type]
    assert client.cleaned == [MODEL], "the run ended before its download had cleaned up"
    assert job.error == INTERRUPTED
    assert FileLock(tmp_path / ".locks" / FOLDER / f"{'1' * 40}.lock").acquire(timeout=0), (
        "the blob's lock is still held")


@pytest.mark.slow
def test_ctrl_c_while_listing_waits_only_for_the_listing_in_flight(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    repos = [f"org/r{i}" for i in range(8)]
    for i, repo in enumerate(repos):
        fake_hub.add_repo(repo, {"m-Q4_K_M.gguf": GeneratedFile(1_000, i)})
    fake_hub.add_fault("/tree/", Fault("slow", seconds=2), times=None)  # 16 s of listings
    run = start_fetch(suite_for(tmp_path / "p", *repos), hub_env, "--jobs", "1")
    wait_for(lambda: fake_hub.count(kind="tree"), "the first listing")
    sent = time.monotonic()
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert time.monotonic() - sent < 6, "Ctrl-C waited for every queued listing (16 s)"
    assert run.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    assert fake_hub.count(kind="tree") == 1


def test_a_connection_stalling_mid_file_twice_does_not_silence_the_hub(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Bytes arrived, then nothing for longer than --timeout, twice: the Hub is up (it was
    sending), so the file resumes and the other files are still asked for."""
    add_model_repo(fake_hub)
    fake_hub.add_fault(MODEL, Fault("stall", after=100_000, seconds=3), times=2)
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M", f"{REPO}:Q8_0")
    code, out, _ = run_fetch(root, capsys, timeout=1, jobs=1)
    assert code == 0, out
    assert [g.headers.get("range") is None for g in file_gets(fake_hub)] == [True, False, False]
    assert_identical(hub_env, fake_hub)
    assert_identical(hub_env, fake_hub, "m-Q8_0.gguf")
