"""What every framework's rules share: the plan they return, its errors, and the repo they read.

A rule chooses files from a `RepoListing` (the repo at one commit) and may read a small file's
content first (an index, `model_index.json`, `modules.json`), as the frameworks themselves do:
the caller supplies `read`, which fetches that file and returns its bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..models import LoadCall, RepoFile, RepoListing

#: Fetches one (small) file of the listing and returns its content.
ReadFile = Callable[[RepoFile], bytes]


class PlannedFile(BaseModel):
    """One file to fetch and why: the framework function whose read of it the rule mirrors."""

    model_config = ConfigDict(frozen=True)

    file: RepoFile
    reason: str


class FilePlan(BaseModel):
    """The files one load call reads from its repo at `commit`, in the order they were chosen."""

    model_config = ConfigDict(frozen=True)

    call: LoadCall
    commit: str
    files: tuple[PlannedFile, ...]
    #: paths the framework asks for and accepts missing, which this commit does not have. Online
    #: the miss is cached as huggingface_hub's `.no_exist/<commit>/<path>` marker; offline, some
    #: loaders fail without it (`AutoTokenizer` in a `subfolder` with no `config.json`).
    absent: tuple[str, ...] = ()

    def repo_files(self) -> tuple[RepoFile, ...]:
        return tuple(p.file for p in self.files)

    def paths(self) -> list[str]:
        return [p.file.path for p in self.files]


class FrameworkError(ValueError):
    """The framework would fail (or read nothing) for this call: says which repo and file."""

    def __init__(self, call: LoadCall, problem: str) -> None:
        self.call, self.problem = call, problem
        super().__init__(f"{call.label()}: {problem}")


def join(folder: str | None, name: str) -> str:
    """A path in the repo as `cached_file(..., subfolder=folder)` builds it."""
    folder = (folder or "").strip("/")
    return f"{folder}/{name}" if folder else name


class RepoFiles:
    """The listing a rule chooses from, the files chosen so far, and the reads it made."""

    def __init__(self, call: LoadCall, listing: RepoListing, read: ReadFile) -> None:
        if call.repo.lower() != listing.repo.lower():
            raise ValueError(f"listing of {listing.repo} given for {call.label()}")
        self.call, self.listing, self._read = call, listing, read
        self._chosen: dict[str, PlannedFile] = {}
        self._absent: dict[str, None] = {}
        self._json: dict[str, Any] = {}

    # -- looking ---------------------------------------------------------------------------
    def find(self, path: str) -> RepoFile | None:
        return self.listing.find(path)

    def has(self, path: str) -> bool:
        return self.listing.find(path) is not None

    def in_folder(self, folder: str | None, *, recursive: bool = False) -> list[RepoFile]:
        """The files directly in `folder` ("" or None: the root), or anywhere below it."""
        prefix = join(folder, "")
        below = [f for f in self.listing.files if f.path.startswith(prefix)]
        return below if recursive else [f for f in below if "/" not in f.path[len(prefix) :]]

    def read_json(self, path: str, why: str) -> Any:
        """The parsed content of a JSON file the rule needs, which is also planned (the framework
        reads it too); a missing or unparsable file is a `FrameworkError` naming it."""
        if path not in self._json:
            found = self.require(path, why)
            try:
                self._json[path] = json.loads(self._read(found))
            except (ValueError, UnicodeDecodeError) as exc:
                raise FrameworkError(self.call, f"{path} is not valid JSON ({exc})") from exc
        return self._json[path]

    # -- choosing --------------------------------------------------------------------------
    def add(self, file: RepoFile, reason: str) -> None:
        """Plan `file` (a file planned twice keeps its first reason)."""
        self._chosen.setdefault(file.path, PlannedFile(file=file, reason=reason))

    def add_if_present(self, path: str, reason: str) -> bool:
        """Plan `path` when the repo has it (the framework asks and accepts a miss)."""
        found = self.find(path)
        if found is not None:
            self.add(found, reason)
        else:
            self._absent[path] = None
        return found is not None

    def add_all(self, files: Iterable[RepoFile], reason: str) -> None:
        for f in files:
            self.add(f, reason)

    def require(self, path: str, why: str) -> RepoFile:
        """Plan `path`, which the framework cannot do without; its absence is an error."""
        found = self.find(path)
        if found is None:
            raise FrameworkError(self.call, f"{path} is not in the repo ({why})")
        self.add(found, why)
        return found

    def plan(self) -> FilePlan:
        return FilePlan(
            call=self.call, commit=self.listing.commit, files=tuple(self._chosen.values()),
            absent=tuple(self._absent),
        )
