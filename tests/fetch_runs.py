"""What the plan and run tests share: a native fetch of a few models in this process (no scan,
no task), on the fake Hub, with what it shows recorded."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scanner.fetch.jobs import FetchRun, FetchSettings
from scanner.fetch.run import run_fetch
from scanner.models import HuggingFaceModel, ModelReference, ScanResult
from tests.downloads import RecordingProgress
from tests.fakehub import FakeHub, GeneratedFile

REPO = "org/m-GGUF"
Q4, Q8, README = "m-Q4_K_M.gguf", "m-Q8_0.gguf", "README.md"


def add_repo(hub: FakeHub, repo: str = REPO, seed: int = 1) -> str:
    """Two quantisations and a README; returns the commit."""
    return hub.add_repo(repo, {Q4: GeneratedFile(3000, seed), Q8: GeneratedFile(5000, seed + 1),
                               README: b"# m\n"})


def model(hf_repo: str = f"{REPO}:Q4_K_M", hf_file: str | None = None,
          revision: str | None = None) -> HuggingFaceModel:
    return HuggingFaceModel(hf_repo=hf_repo, hf_file=hf_file, revision=revision)


def scan_of(*models: HuggingFaceModel, denied: tuple[HuggingFaceModel, ...] = ()) -> ScanResult:
    references = tuple(ModelReference(model=m, file="test_a.py", line=i + 1, test="test_a",
                                      kind="url" if m.revision else "assignment")
                       for i, m in enumerate(models))
    return ScanResult(references=references, diagnostics=(), files_scanned=1,
                      denied=frozenset(denied))


class Progress(RecordingProgress):
    """The downloads' progress, and the partials cleared before them."""

    def __init__(self) -> None:
        super().__init__()
        self.removed: list[tuple[str, int, int]] = []

    def partials_removed(self, count: int, total_bytes: int) -> None:
        self.removed.append(("stale", count, total_bytes))

    def outdated_partials_removed(self, count: int, total_bytes: int) -> None:
        self.removed.append(("outdated", count, total_bytes))


class Shown:
    """The `Display` of a fetch: what it was told, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.progress = Progress()

    @property
    def removed(self) -> list[tuple[str, int, int]]:
        return self.progress.removed

    @contextlib.contextmanager
    def listing(self, repos: list[str], endpoint: str, *,
                offline: bool) -> Iterator[Callable[[str], None]]:
        self.events.append(("listing", (repos, endpoint, offline)))
        yield lambda repo: self.events.append(("listed", repo))

    def planned(self, run: FetchRun) -> None:
        self.events.append(("planned", [str(p.status) for p in run.plans]))

    @contextlib.contextmanager
    def downloading(self, total_bytes: int) -> Iterator[Progress]:
        self.events.append(("downloading", total_bytes))
        yield self.progress

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


def fetch(hub: FakeHub | None, cache: Path, *models: HuggingFaceModel,
          denied: tuple[HuggingFaceModel, ...] = (), shown: Shown | None = None,
          **settings: Any) -> FetchRun:
    """`run_fetch` of `models` into `cache` (offline when `hub` is None)."""
    endpoint = hub.url if hub is not None else "http://127.0.0.1:9"
    options = FetchSettings(cache, endpoint, None, offline=hub is None, **settings)
    return run_fetch(scan_of(*models, denied=denied), options, shown or Shown())


def statuses(run: FetchRun) -> list[tuple[str, str | None]]:
    return [(str(p.status), p.error) for p in run.plans]


def file_gets(hub: FakeHub) -> list[str]:
    """The names of the files the fake Hub was asked for, in order."""
    return [r.path.rpartition("/")[2] for r in hub.requests if r.kind == "resolve"]
