"""The download workers: `--jobs` files at once, and what Ctrl-C says, also when a download
does not stop in time."""

from __future__ import annotations

import io
import signal
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from scanner.fetch import download
from scanner.fetch.download import FetchInterrupted, download_all
from scanner.fetch.jobs import INTERRUPTED, FetchSettings, FileJob, FileStatus
from scanner.fetch.partial import present_in
from scanner.hub import client as hub
from scanner.models import RepoFile
from scanner.output.progress import FetchProgress
from tests.downloads import MODEL, REPO, file_gets, partials, start_fetch, wait_for
from tests.fakehub import CHUNK, FakeHub, Fault, GeneratedFile
from tests.helpers import suite_for
from tests.test_reliability import SlowToStopClient


class CtrlCOnRequest(SlowToStopClient):
    """Ctrl-C reaches the main thread as the file's request is sent, which then hangs."""

    def __init__(self, cleanup_s: float) -> None:
        super().__init__(cleanup_s)
        self.main = threading.get_ident()

    def stream(self, url: str, headers: dict[str, str]) -> AbstractContextManager[Any]:
        signal.pthread_kill(self.main, signal.SIGINT)
        return super().stream(url, headers)


def test_a_download_stuck_past_the_grace_is_named_when_ctrl_c_ends_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read stuck until its timeout does not hold the run: Ctrl-C ends it after the grace
    and says that one download did not stop in time."""
    monkeypatch.setattr(download, "CANCEL_GRACE_S", 0.2)
    client = CtrlCOnRequest(cleanup_s=2.0)
    job = FileJob(repo=REPO, commit="0" * 40, status=FileStatus.DOWNLOAD,
                  file=RepoFile(path=MODEL, size=1, oid="1" * 40))
    settings = FetchSettings(cache=tmp_path, endpoint="http://127.0.0.1:9", token=None, jobs=1)
    progress = FetchProgress(Console(file=io.StringIO()), 1, "quiet")
    with pytest.raises(FetchInterrupted) as stopped:
        download_all([job], client, settings, progress)  # type: ignore[arg-type]
    assert str(stopped.value) == (
        "1 file(s) not downloaded, 0 completed before Ctrl-C (partial files kept: the next run "
        "resumes them; 1 download(s) did not stop in time); run models.fetch again to finish")
    assert client.cleaned == [] and job.error == INTERRUPTED


def test_ctrl_c_says_what_is_left_and_that_the_partials_are_kept(tmp_path: Path) -> None:
    client = CtrlCOnRequest(cleanup_s=0)
    job = FileJob(repo=REPO, commit="0" * 40, status=FileStatus.DOWNLOAD,
                  file=RepoFile(path=MODEL, size=1, oid="1" * 40))
    settings = FetchSettings(cache=tmp_path, endpoint="http://127.0.0.1:9", token=None)
    with pytest.raises(FetchInterrupted) as stopped:
        download_all([job], client, settings, FetchProgress(Console(file=io.StringIO()), 1,
                                                            "quiet"))  # type: ignore[arg-type]
    assert str(stopped.value) == (
        "1 file(s) not downloaded, 0 completed before Ctrl-C (partial files kept: the next run "
        "resumes them); run models.fetch again to finish")


class Order:
    """The progress calls of a run, in order: ("started" | "done", file)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def file_started(self, label: str, size: int,
                     present: int) -> tuple[Callable[[int], None], float]:
        self.events.append(("started", label.rsplit(" ", 1)[1]))
        return (lambda _n: None), 0.0

    def file_done(self, label: str, size: int, started: float, error: str | None) -> None:
        self.events.append(("done", label.rsplit(" ", 1)[1]))

    def file_cancelled(self, label: str) -> None:
        pass

    def file_waiting(self, label: str, holder: str) -> None:
        pass

    def partials_removed(self, count: int, total_bytes: int) -> None:
        pass

    def outdated_partials_removed(self, count: int, total_bytes: int) -> None:
        pass


def test_jobs_1_opens_one_file_at_a_time(fake_hub: FakeHub, hub_env: Path) -> None:
    """The first file's response is held after its first bytes: the second file is not
    started meanwhile (the Hub is given a second to be asked), only once the first is done."""
    fake_hub.add_repo(REPO, {"a.gguf": GeneratedFile(1_000_000, 1),
                             "b.gguf": GeneratedFile(1_000_000, 2)})
    held = Fault("hold", after=CHUNK)
    fake_hub.add_fault("a.gguf", held)
    client = hub.HubClient(fake_hub.url, None, hub_env, backoff=0.01)
    listing, _ = client.listing(REPO)
    jobs = [FileJob(REPO, listing.commit, file, FileStatus.DOWNLOAD) for file in listing.files]
    order = Order()
    run = threading.Thread(target=download_all, args=(
        jobs, client, FetchSettings(hub_env, fake_hub.url, None, jobs=1), order))
    run.start()
    try:
        wait_for(lambda: file_gets(fake_hub, "a.gguf"), "the first file's request")
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline and not file_gets(fake_hub, "b.gguf"):
            time.sleep(0.02)
    finally:
        held.release.set()
        run.join(timeout=60)
    assert order.events == [("started", "a.gguf"), ("done", "a.gguf"),
                            ("started", "b.gguf"), ("done", "b.gguf")]
    assert [job.status for job in jobs] == [FileStatus.DOWNLOADED] * 2


@pytest.mark.slow
def test_ctrl_c_ends_the_run_while_a_read_is_stuck(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """The Hub stops sending mid-file and --timeout is long: Ctrl-C still ends the run (exit
    130) after the grace, saying the download did not stop, its partial kept."""
    fake_hub.add_repo(REPO, {MODEL: GeneratedFile(3_000_000, 21)})
    held = Fault("hold", after=CHUNK)
    fake_hub.add_fault(MODEL, held)
    run = start_fetch(suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), hub_env, "--timeout", "600")
    try:
        sha = fake_hub.sha256(REPO, MODEL)
        wait_for(lambda: [p for p in partials(hub_env) if present_in(p, 3_000_000, sha)],
                 "the first bytes recorded")
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=30)
    finally:
        held.release.set()
        run.kill()
    assert run.returncode == 130, out + err
    assert "1 download(s) did not stop in time" in err and "Traceback" not in err
