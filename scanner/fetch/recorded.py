"""What the last fetch resolved, kept in the cache, so that a warm run asks the Hub nothing.

After a fetch, each model it resolved from a Hub listing (llama.cpp's rules, on the repo's
`main`) is written down as `models.lock` writes it: the commit and the files. The next fetch on
the same cache takes a model from that record, without listing its repo, when the record still
describes the cache: `refs/main` points at the recorded commit and every recorded file is in
that snapshot with its size. Anything else (a file removed, a ref another client moved, a model
not recorded, another `--no-mmproj` setting) is listed as before. A `main` that moved on the Hub
is found by `--latest` (which lists every repo and records anew) and by `models.lock`, as Cargo
and uv keep what their lock resolved until asked to update (docs/tasks.md, "A warm run").

The record is `<cache>/.locks/.fetch-test-models/resolved.lock` (`resolved-no-mmproj.lock`
without the mmproj files; under `.locks/`, which `hf cache scan` passes over): one per cache,
shared by every suite using it; a record that cannot be read counts as empty, and one that
cannot be written (a read-only cache) is not written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from ..cache import layout as hf_cache
from ..models import HuggingFaceModel, RepoListing
from . import lock
from .jobs import ModelPlan, ModelStatus


def record_path(cache: Path, *, mmproj: bool) -> Path:
    """One record per mmproj setting: a model resolves to other files with and without it."""
    return cache / hf_cache.TOOL_FOLDER / ("resolved.lock" if mmproj else "resolved-no-mmproj.lock")


def _entries(path: Path) -> list[lock.LockEntry]:
    try:
        return lock.parse(lock.read_text(path, missing=""), path) if path.is_file() else []
    except lock.LockError:  # a record half-written by hand or by another version: not used
        return []


def complete_in_cache(cache: Path, *, mmproj: bool) -> dict[HuggingFaceModel, RepoListing]:
    """The recorded models still complete in the cache at the recorded commit, each with the
    files it resolved to, as the listing its resolution reads (as a lock's, `lock.listings`)."""
    listings = lock.listings(_entries(record_path(cache, mmproj=mmproj)))
    return {model: listing for model, listing in listings.items()
            if hf_cache.read_ref(cache, model.repo) == listing.commit
            and all(hf_cache.is_cached(cache, model.repo, listing.commit, file)
                    for file in listing.files)}


def recordable(plans: Iterable[ModelPlan]) -> list[lock.LockEntry]:
    """The entries of the models this fetch brought complete from a listing of `main` (a
    revision or a framework's loader is not what a lock line says; a snapshot standing in for
    an unavailable Hub may be behind `main`)."""
    return [lock.LockEntry(plan.model, plan.commit, job.file)
            for plan in plans
            if plan.status in (ModelStatus.CACHED, ModelStatus.DOWNLOADED) and plan.commit
            and not plan.model.revision and plan.model.loader is None
            and not plan.hub_unavailable
            for job in plan.files]


def write_record(cache: Path, entries: list[lock.LockEntry], *, mmproj: bool) -> None:
    """Add `entries` to the record, replacing what it said of their models; a record that
    says so already is left alone (a warm cache is not written to)."""
    if not entries:
        return
    path = record_path(cache, mmproj=mmproj)
    fresh = {entry.model for entry in entries}
    old = _entries(path)
    text = lock.render([*(e for e in old if e.model not in fresh), *entries])
    if text == lock.render(old):
        return
    with contextlib.suppress(OSError):  # a read-only cache: the next run lists again
        path.parent.mkdir(exist_ok=True)
        lock.write(path, text)
