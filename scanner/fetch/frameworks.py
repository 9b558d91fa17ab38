"""A framework model's files: the union of what each of its load calls reads
(`scanner/frameworks/`), planned from one listing. The small files the rules read first (an
index, `model_index.json`, `modules.json`) are fetched into the cache as they are asked for:
they are in the plan anyway. The optional files the repo lacks become huggingface_hub's
"does not exist" markers once the model is complete, as its own download would leave them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from ..cache import layout as hf_cache
from ..frameworks import Overrides, plan_files
from ..frameworks.calls import load_calls
from ..models import RepoFile, RepoListing
from .jobs import FileJob, FileStatus, ModelPlan
from .presets import Download

#: The job of one file of the listing: shared with every model that needs it.
JobFor = Callable[[RepoFile], FileJob]


class UnreadFile(Exception):
    """A file a rule must read is not at hand: the message says which and why."""


class NotFetchedInDryRun(UnreadFile):
    """A dry run asks for no file, so a rule that must read one cannot plan the rest."""


class FrameworkFiles(NamedTuple):
    files: list[RepoFile]
    absent: list[str]


def framework_files(plan: ModelPlan, listing: RepoListing, cache: Path, job_for: JobFor,
                    download: Download | None, overrides: Overrides | None = None,
                    ) -> FrameworkFiles:
    """The union of the plans of the model's load calls (`FrameworkError`, `UnreadFile` when
    one cannot be made). `download` fetches a file a rule reads (None: a dry run); `overrides`
    (`models.files`) replace the rules for the repos they match."""

    def read(file: RepoFile) -> bytes:
        job = job_for(file)
        if job.status is FileStatus.DOWNLOAD and download is not None:
            download([job])
        if job.status is FileStatus.DOWNLOAD:
            raise NotFetchedInDryRun(f"{job.label}: not fetched in a dry run, so the files it "
                                     "names are not planned")
        if job.status not in (FileStatus.CACHED, FileStatus.DOWNLOADED):
            raise UnreadFile(job.error or f"{job.label}: not in the cache")
        path = job.link_from or hf_cache.snapshot_path(cache, job.repo, job.commit, file.path)
        try:
            return path.read_bytes()
        except OSError as error:
            raise UnreadFile(f"{job.label}: cannot be read ({error.strerror or error})") from None

    files: dict[str, RepoFile] = {}
    absent: dict[str, None] = {}
    for call in load_calls(plan.references):
        found = plan_files(call, listing, read, overrides=overrides)
        for file in found.repo_files():
            files.setdefault(file.path, file)
        absent.update(dict.fromkeys(found.absent))
    return FrameworkFiles(list(files.values()), list(absent))


def mark_absent(cache: Path, repo: str, commit: str, paths: list[str]) -> None:
    """huggingface_hub's marker of a file the repo lacks at `commit`: an empty
    `.no_exist/<commit>/<path>` in the repo's folder, which `hf_hub_download` checks before
    failing offline (`_get_metadata_or_catch_error` writes it, `try_to_load_from_cache` reads
    it: huggingface_hub 2.5 `file_download.py`). A loader that asks for an optional file then
    takes its absence offline as it would online. Never fails the fetch: without a marker the
    load asks the Hub, as it would with no tool."""
    for path in paths:
        marker = hf_cache.repo_folder(cache, repo) / ".no_exist" / commit / path
        if marker.exists():
            continue  # a warm cache is not written to
        with contextlib.suppress(OSError):
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
