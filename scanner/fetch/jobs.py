"""What a fetch tracks: its settings, one job per file, one plan per model, a URL file's
placement, the run as a whole, and their typed statuses, which change only through the
methods below."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .. import limits, models
from ..llama.url_files import DEFAULT_URL_DEST
from ..models import Diagnostic, HuggingFaceModel, ModelReference, RepoFile, RepoListing

if TYPE_CHECKING:  # the Hub stack loads only when the Hub is asked (not offline)
    from ..hub.errors import HubError

#: What an interrupted file's error says (Ctrl-C stopped it; nothing is wrong with the Hub).
INTERRUPTED = "interrupted before it finished"


class FileStatus(str, Enum):
    """One file of the plan; the value is what the table and the JSON document say."""

    CACHED = "cached"
    DOWNLOAD = "download"  # planned
    DOWNLOADED = "downloaded"
    FAILED = "failed"
    MISSING = "missing"  # offline, or a cached copy that failed --verify without repair

    def __str__(self) -> str:
        return self.value


class ModelStatus(str, Enum):
    """One model of the plan; FAILED and MISSING make the run fail."""

    PLANNED = "planned"
    CACHED = "cached"
    DOWNLOADED = "downloaded"
    FAILED = "failed"
    MISSING = "missing"
    DENIED = "denied"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value

    @property
    def bad(self) -> bool:
        return self in (ModelStatus.FAILED, ModelStatus.MISSING)


def lock_fix(lock_path: str) -> str:
    """What to do when the lock disagrees with the cache or the Hub."""
    return f"run `fetch-test-models models.lock` to update {lock_path}, or fix it"


@dataclass
class FileJob:
    """One distinct file of the run; shared by every model that needs it."""

    repo: str
    commit: str
    file: RepoFile
    status: FileStatus
    error: str | None = None
    interrupted: bool = False
    #: cached as a blob of another commit: linked into this snapshot instead of downloaded
    link_from: Path | None = None
    #: bytes this run received for it (0 when another run stored it while this one waited)
    received: int = 0
    #: bytes an earlier run had left in its partial file, which this run did not ask for again
    resumed: int = 0
    #: `--locked`: the lock file that gave the file's size and id (None: the Hub's listing)
    pinned_by: str | None = None

    @property
    def label(self) -> str:
        return models.file_label(self.repo, self.file.path)

    @property
    def expected_from(self) -> str:
        """Whose size and id the bytes must have, as messages say it."""
        return "the lock's" if self.pinned_by else "the Hub's"

    def lock_fix(self) -> str:
        return lock_fix(self.pinned_by or "the lock")

    def stored(self, *, by_this_run: bool) -> None:
        """In the cache now: stored by this run, or by another process on the same cache that
        held the file's lock first (then it counts as cached)."""
        self.status = FileStatus.DOWNLOADED if by_this_run else FileStatus.CACHED
        self.error = None

    def fail(self, error: str) -> None:
        self.status, self.error = FileStatus.FAILED, error

    def interrupt(self) -> None:
        self.status, self.error, self.interrupted = FileStatus.FAILED, INTERRUPTED, True

    def not_downloaded(self, reason: str) -> None:
        """Planned but left alone (e.g. no free space): the model fails with this reason."""
        self.error = reason

    def bad_copy(self, problem: str, *, repair: bool) -> None:
        """A cached copy failed --verify: fetched again, or (dry run, offline) missing."""
        self.status = FileStatus.DOWNLOAD if repair else FileStatus.MISSING
        self.error = None if repair else problem
        self.link_from = None


class PlaceStatus(str, Enum):
    """One destination; the value is what the table and the JSON document say."""

    PRESENT = "present"  # already there: a link to the blob, or the same bytes
    PLANNED = "to place"  # a dry run, or before the downloads
    LINKED = "linked"
    COPIED = "copied"
    DIFFERENT = "different"  # another file is there: left alone
    MISSING = "missing"  # the file is not in the cache (failed, missing offline)
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


@dataclass
class Placement:
    """A URL file where the suite reads it (`fetch/place.py` makes and fills it)."""

    job: FileJob
    path: Path  # the destination
    relative: str  # the destination under the suite folder, as the table and JSON say it
    status: PlaceStatus = PlaceStatus.PLANNED
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (PlaceStatus.PRESENT, PlaceStatus.LINKED, PlaceStatus.COPIED)


@dataclass
class ModelPlan:
    model: HuggingFaceModel
    references: list[ModelReference]
    status: ModelStatus = ModelStatus.PLANNED
    commit: str | None = None
    files: list[FileJob] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    #: resolved from the cached snapshot because the Hub could not be asked (`note` says why)
    hub_unavailable: bool = False
    #: a URL reference's files where the suite reads them (`fetch/place.py`)
    placements: list[Placement] = field(default_factory=list)
    #: optional files a framework asks for that the repo lacks (`fetch/frameworks.py`)
    absent: list[str] = field(default_factory=list)

    @property
    def revision(self) -> str:
        return self.model.revision or "main"

    @property
    def planned(self) -> bool:
        return self.status is ModelStatus.PLANNED

    def set_aside(self, status: ModelStatus, note: str) -> None:
        self.status, self.note = status, note

    def fail(self, error: str, *, offline: bool) -> None:
        self.status = ModelStatus.MISSING if offline else ModelStatus.FAILED
        self.error = error


@dataclass
class FetchRun:
    """What one fetch planned and how it ended."""

    plans: list[ModelPlan]
    jobs: list[FileJob]
    problems: list[str] = field(default_factory=list)  # listing and --verify warnings
    #: the downloads were refused before any request: "read-only" or "no-space"
    refused: Literal["read-only", "no-space"] | None = None
    needed_bytes: int = 0
    free_bytes: int = 0
    #: presets that could not be read (the scan's own diagnostics are the caller's)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: each repo's whole listing of `main` as the Hub gave it to this run (`recorded.py`
    #: keeps a framework model's)
    listed: dict[str, RepoListing] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(plan.status.bad for plan in self.plans)

    def status_counts(self) -> str:
        """`2 cached, 1 failed`: models by status, for summaries."""
        counts: dict[str, int] = {}
        for plan in self.plans:
            counts[str(plan.status)] = counts.get(str(plan.status), 0) + 1
        return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))

    def received_bytes(self) -> int:
        """Bytes this run received (`jobs` holds each shared file once)."""
        return sum(job.received for job in self.jobs)


@dataclass
class ListingOutcome:
    listing: RepoListing | None
    error: HubError | None = None
    note: str | None = None
    problems: list[str] = field(default_factory=list)
    missing: str | None = None  # why there is no listing, when no Hub error says it
    locked: bool = False  # the listing is the lock's: its sizes and ids are the lock's
    hub_unavailable: bool = False  # the cached snapshot stands in for a listing the Hub refused


@dataclass(frozen=True)
class Recorded:
    """What the last fetch on this cache resolved that the cache still holds at the recorded
    commit (`recorded.py`): a model found here is resolved from it, its repo not listed."""

    #: llama.cpp's models: the files each resolved to (all of them cached)
    models: Mapping[HuggingFaceModel, RepoListing] = field(default_factory=dict)
    #: a framework model's repo: its whole listing (its rules choose from every file)
    repos: Mapping[str, RepoListing] = field(default_factory=dict)

    def listing(self, model: HuggingFaceModel) -> RepoListing | None:
        """The recorded listing `model` resolves from; None: its repo is listed (a revision
        is pinned by itself, never recorded)."""
        if model.revision:
            return None
        return self.models.get(model) if model.loader is None else self.repos.get(model.repo)


@dataclass
class FetchSettings:
    cache: Path
    endpoint: str
    token: str | None
    jobs: int = limits.JOBS
    connections: int = limits.CONNECTIONS
    offline: bool = False
    mmproj: bool = True
    urls: bool = False
    verify: bool = False
    dry_run: bool = False
    timeout: float = limits.TIMEOUT_S
    tries: int = limits.TRIES
    #: the lock's pinned files of each model it names (their repos are not listed); None: no
    #: lock in use, every repo is listed
    locked: dict[HuggingFaceModel, RepoListing] | None = None
    #: `--locked`: a model the lock lacks fails (else it is listed as usual)
    lock_strict: bool = False
    lock_path: str = "models.lock"  # named in messages about models the lock lacks
    #: the suite folder, where URL files are placed (`url_dest` under it); None: not placed
    place_in: Path | None = None
    url_dest: str = DEFAULT_URL_DEST
    #: repos never to fetch, as `models.deny` (for the models presets name)
    deny: tuple[str, ...] = ()
    #: `models.files`: repo pattern → the file patterns fetched for a framework's model there
    overrides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: what the last fetch on this cache resolved, still as the cache holds it: not listed
    recorded: Recorded = field(default_factory=Recorded)

    def is_denied(self, model: HuggingFaceModel) -> bool:
        return any(fnmatchcase(model.repo, p) or fnmatchcase(model.hf_repo, p)
                   for p in self.deny)
