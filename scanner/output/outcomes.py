"""What each task did, as data: the commands in `scanner/cli/` compute one of these, and
`output/show.py` turns it into text, JSON, the CI step summary and the exit code.

Only what is shown at the END of a task is here; what a person watches while it runs (the
fetch's plan and progress, prune's list before it removes, pytest's own output) stays live.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the fetch's types load with the fetch only (start-up of `models.list`)
    from ..fetch.jobs import FetchRun, FetchSettings, ModelPlan
    from ..fetch.llama import LlamaBinary, LlamaOutcome
    from ..fetch.lock import LockEntry
    from ..models import HuggingFaceModel, ScanResult
    from ..prune.unneeded import PruneItem
    from ..selection.needs import SelectedScan
    from ..selection.network import NetworkNeed


@dataclass(frozen=True)
class Listed:
    """`models.list`: the (selected) scan and what its tests fetch at run time."""

    scan: ScanResult
    selected: SelectedScan | None
    network: list[NetworkNeed]


@dataclass(frozen=True)
class Fetched:
    """`models.fetch`, native backend: the run (its `refused` says when nothing was
    downloaded for want of room or a writable cache) and what its summary needs."""

    scan: ScanResult
    selected: SelectedScan | None
    network: list[NetworkNeed]
    settings: FetchSettings
    run: FetchRun
    seconds: float


@dataclass(frozen=True)
class LlamaFetched:
    """`models.fetch --backend llama`: llama.cpp's outcome per model, or with `commands` (a
    dry run) the command each model would run (empty: llama.cpp cannot fetch it)."""

    scan: ScanResult
    selected: SelectedScan | None
    binary: LlamaBinary
    models: list[HuggingFaceModel]
    outcomes: list[LlamaOutcome]
    commands: list[tuple[str, ...]] | None = None

    @property
    def failed(self) -> list[LlamaOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]


#: unresolved: a model could not be resolved, the lock was neither written nor checked.
LockState = Literal["written", "not written", "up to date", "stale", "unresolved"]


@dataclass(frozen=True)
class Locked:
    """`models.lock`: the entries resolved and what became of the lock file at `path`."""

    path: Path
    state: LockState
    entries: list[LockEntry]
    unresolved: list[ModelPlan]
    check: bool = False  # `--check`: the lock on disk compared, never written
    diff: list[str] | None = None  # stale: `on disk` → `now`, as a unified diff
    write_error: str | None = None  # not written: why


@dataclass(frozen=True)
class Pruned:
    """`models.prune`: what the suite no longer needs in `cache`, and what was removed
    (None: only listed, without --yes); `unreadable` says why the cache could not be read."""

    cache: Path
    items: list[PruneItem]
    removed: list[PruneItem] | None = None
    unreadable: str | None = None


@dataclass(frozen=True)
class ServerTestsRun:
    """`test.server`: the pytest line, and how the fetch and the tests ended."""

    pytest_line: str
    fetch_code: int = 0  # the fetch's exit code (0 too when nothing was fetched)
    pytest_code: int | None = None  # None: the tests never ran (the fetch failed)
    interrupted: bool = False  # Ctrl-C reached pytest, which printed its summary


Outcome = Listed | Fetched | LlamaFetched | Locked | Pruned | ServerTestsRun
