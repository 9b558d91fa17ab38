"""What the last fetch resolved, kept in the cache, so that a warm run asks the Hub nothing.

After a fetch, each model it resolved from a Hub listing (llama.cpp's rules, on the repo's
`main`) is written down as `models.lock` writes it: the commit and the files. The next fetch on
the same cache takes a model from that record, without listing its repo, when the record still
describes the cache: `refs/main` points at the recorded commit and every recorded file is in
that snapshot with its size. Anything else (a file removed, a ref another client moved, a model
not recorded, another `--no-mmproj` setting) is listed as before. A `main` that moved on the Hub
is found by `--latest` (which lists every repo and records anew) and by `models.lock`, as Cargo
and uv keep what their lock resolved until asked to update (docs/tasks.md, "A warm run").

A framework's model (transformers, diffusers, huggingface_hub, ...) is one repo loaded one
way, and its files are the union of what each of its load calls reads: a suite that adds a
call (`AutoModel` beside `AutoTokenizer`) needs files the last fetch never chose. So for it
the record keeps the repo's whole listing at the commit, which never changes: the next fetch
runs the rules on it as on the Hub's, and downloads what they choose that the cache lacks at
that commit, without listing the repo, while `refs/main` still points there.

The records are `<cache>/.locks/.fetch-test-models/resolved.lock` (`resolved-no-mmproj.lock`
without the mmproj files) and `listings.json` beside it (under `.locks/`, which `hf cache
scan` passes over): one per cache, shared by every suite using it; a record that cannot be
read counts as empty, and one that cannot be written (a read-only cache) is not written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..cache import TOOL_FOLDER, atomic
from ..cache import layout as hf_cache
from ..llama.repo_id import hf_file_problem
from ..models import HuggingFaceModel, RepoListing
from . import lock
from .jobs import FetchRun, ModelPlan, ModelStatus


def record_path(cache: Path, *, mmproj: bool) -> Path:
    """One record per mmproj setting: a model resolves to other files with and without it."""
    return cache / TOOL_FOLDER / ("resolved.lock" if mmproj else "resolved-no-mmproj.lock")


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
    """The entries of llama.cpp's models this fetch brought complete from a listing of `main`
    (a framework's model keeps its repo's listing instead: `recordable_listings`)."""
    return [lock.LockEntry(plan.model, commit, job.file)
            for plan in plans if plan.model.loader is None and (commit := _main_commit(plan))
            for job in plan.files]


def _main_commit(plan: ModelPlan) -> str | None:
    """The commit of `main` the model was brought complete at; None for one set aside or
    failed, at a revision, or resolved from a snapshot standing in for an unavailable Hub."""
    complete = plan.status in (ModelStatus.CACHED, ModelStatus.DOWNLOADED)
    return plan.commit if complete and not (plan.model.revision or plan.hub_unavailable) else None


def write_record(cache: Path, entries: list[lock.LockEntry], *, mmproj: bool) -> None:
    """Add `entries` to the record, replacing what it said of their models; a record that
    says so already is left alone (a warm cache is not written to)."""
    if not entries:
        return
    path = record_path(cache, mmproj=mmproj)
    fresh = {entry.model for entry in entries}
    old = _entries(path)
    text = lock.render([*(e for e in old if e.model not in fresh), *entries])
    if text != lock.render(old):
        atomic.keep_text(path, text)  # a read-only cache keeps none: the next run lists again


# -- a framework model's repo: its whole listing ------------------------------------------------
LISTINGS_VERSION = 1


def listings_path(cache: Path) -> Path:
    return cache / TOOL_FOLDER / "listings.json"


def _recorded_listings(path: Path) -> dict[str, RepoListing]:
    """Every listing the record at `path` keeps; none when it cannot be read (cut short,
    edited by hand, written by another version)."""
    try:
        kept = json.loads(path.read_bytes()) if path.is_file() else {}
        if kept.get("version") != LISTINGS_VERSION:
            return {}
        listings = [RepoListing.model_validate(item) for item in kept["repos"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    return {listing.repo: listing for listing in listings  # as a lock's: no path leaves the repo
            if hf_cache.is_commit(listing.commit)
            and not any(hf_file_problem(file.path) for file in listing.files)}


def listings_in_cache(cache: Path) -> dict[str, RepoListing]:
    """The recorded repos whose `refs/main` in the cache still points at the recorded commit
    (another client may have moved it), each with its whole listing there."""
    return {repo: listing for repo, listing in _recorded_listings(listings_path(cache)).items()
            if hf_cache.read_ref(cache, repo) == listing.commit}


def recordable_listings(run: FetchRun) -> dict[str, RepoListing]:
    """The whole listing of each repo whose framework model this fetch brought complete from
    the Hub's listing of `main`."""
    return {plan.model.repo: listing for plan in run.plans
            if plan.model.loader is not None and (listing := run.listed.get(plan.model.repo))
            and listing.commit == _main_commit(plan)}


def write_listings(cache: Path, fresh: Mapping[str, RepoListing]) -> None:
    """Add `fresh` to the record, replacing what it said of their repos; a record that says so
    already is left alone (a warm cache is not written to)."""
    if not fresh:
        return
    path = listings_path(cache)
    old = _recorded_listings(path)
    if all(old.get(repo) == listing for repo, listing in fresh.items()):
        return
    repos = old | dict(fresh)
    atomic.keep_text(path, json.dumps({"version": LISTINGS_VERSION,
                            "repos": [repos[repo].model_dump() for repo in sorted(repos)]},
                           indent=1))
