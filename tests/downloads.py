"""What the download tests share: one repo on the fake Hub, the Hub's request log, where
partial files are, downloads through `download_all` with their progress recorded, and
`models.fetch` started as a user starts it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scanner.fetch.download import download_all
from scanner.fetch.jobs import FetchSettings, FileJob, FileStatus
from scanner.hub import client as hub
from tests.fakehub import FakeHub, Request
from tests.helpers import invoke_command, llama_offline_lookup

REPO = "org/rel-GGUF"
FOLDER = "models--org--rel-GGUF"
MODEL = "m-Q4_K_M.gguf"


def file_gets(hub_: FakeHub, path: str = MODEL) -> list[Request]:
    return [r for r in hub_.requests if r.method == "GET" and r.path.endswith("/" + path)]


def assert_identical(cache: Path, hub_: FakeHub, path: str = MODEL) -> None:
    data = llama_offline_lookup(cache, REPO, path)
    assert data is not None, f"{path} is not where llama.cpp looks"
    assert hashlib.sha256(data).hexdigest() == hub_.sha256(REPO, path)


def partials(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.incomplete")) if cache.exists() else []


class RecordingProgress:
    """The downloads' progress calls, recorded (bytes per file, in the order reported)."""

    def __init__(self) -> None:
        self.bytes: list[int] = []
        self.present: list[int] = []
        self.done: list[str | None] = []

    def file_started(self, label: str, size: int,
                     present: int) -> tuple[Callable[[int], None], float]:
        self.present.append(present)
        return self.bytes.append, time.monotonic()

    def file_done(self, label: str, size: int, started: float, error: str | None) -> None:
        self.done.append(error)

    def file_cancelled(self, label: str) -> None:
        self.done.append("cancelled")

    def file_waiting(self, label: str, holder: str) -> None:
        self.done.append("waiting")

    def partials_removed(self, count: int, total_bytes: int) -> None:
        pass

    def outdated_partials_removed(self, count: int, total_bytes: int) -> None:
        pass


def download_one(hub_: FakeHub, cache: Path, path: str = MODEL, token: str | None = None,
                 **settings: Any) -> tuple[FileJob, RecordingProgress]:
    """`path` of REPO through `download_all`, as a fetch downloads it."""
    client = hub.HubClient(hub_.url, token, cache, backoff=0.01)
    listing, _ = client.listing(REPO)
    (file,) = [f for f in listing.files if f.path == path]
    job = FileJob(REPO, listing.commit, file, FileStatus.DOWNLOAD)
    progress = RecordingProgress()
    download_all([job], client, FetchSettings(cache, hub_.url, None, **settings), progress)
    return job, progress


def fetch_command(root: Path, *args: str) -> list[str]:
    return invoke_command("models.fetch", "--root", str(root), *args)


def start_fetch(root: Path, cache: Path, *args: str) -> subprocess.Popen[str]:
    """`invoke models.fetch` as a user starts it, on the fake Hub (HF_ENDPOINT from `hub_env`)."""
    env = dict(os.environ, HF_HUB_CACHE=str(cache), TERM="dumb")
    return subprocess.Popen(fetch_command(root, *args), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
