"""The plan of a fetch: each model's files, cached or to download, from one listing per repo,
resolved as llama.cpp would; and what each model ends as once the downloads are done."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cache import layout as hf_cache
from ..frameworks import FrameworkError
from ..llama.resolve import ResolutionError, resolve
from ..models import HuggingFaceModel, RepoFile, RepoListing, ScanResult, file_label
from .frameworks import (
    JobFor,
    NotFetchedInDryRun,
    UnreadFile,
    framework_files,
    mark_absent,
)
from .jobs import (
    FetchSettings,
    FileJob,
    FileStatus,
    ListingOutcome,
    ModelPlan,
    ModelStatus,
    lock_fix,
)
from .parallel import map_on_daemon_threads
from .partial import present_in
from .presets import Download

if TYPE_CHECKING:  # the Hub stack loads only when the Hub is asked (not offline)
    from ..hub.client import HubClient
    from ..hub.errors import HubError


#: Why a URL reference is set aside: a file that is no model, or URL files switched off.
NOT_A_MODEL = "not a model file: the test fetches it from the Hub at run time (needs the network)"
URLS_OFF = "URL reference: not fetched (--no-urls or models.urls false)"


def make_plans(scan: ScanResult, settings: FetchSettings) -> list[ModelPlan]:
    """One plan per distinct model; denied models are set aside, and so are URL references to
    files that are no GGUF (images: the tests fetch them, nobody reads them from the cache) or,
    with URL files switched off, every URL reference. A framework's reference (`loader`) is
    planned by its framework's rules, a URL one included (`from_single_file`)."""
    plans = []
    for model in scan.models():
        plan = ModelPlan(model, scan.references_to(model))
        if model in scan.denied:
            plan.set_aside(ModelStatus.DENIED, "on the deny list")
        elif model.loader is None and model.revision and not is_model_url(model):
            plan.set_aside(ModelStatus.SKIPPED, NOT_A_MODEL)
        elif model.loader is None and model.revision and not settings.urls:
            plan.set_aside(ModelStatus.SKIPPED, URLS_OFF)
        plans.append(plan)
    return plans


def is_model_url(model: HuggingFaceModel) -> bool:
    """A URL reference to a GGUF file: a model, adapter or draft the suite loads from disk."""
    return bool(model.hf_file and model.hf_file.endswith(".gguf"))


def locked_listing(plan: ModelPlan, settings: FetchSettings) -> ListingOutcome:
    """`--locked`: the model's pinned files, or why there are none (nothing is asked of the
    Hub; a URL reference is pinned by its URL and listed as usual)."""
    assert settings.locked is not None
    listing = settings.locked.get(plan.model)
    if listing is None:
        return ListingOutcome(None, missing=f"{plan.model.label()}: not in {settings.lock_path} "
                                            "(run `fetch-test-models models.lock` to pin it)")
    return ListingOutcome(listing, note=f"locked at {listing.commit[:12]}", locked=True)


def list_repos(plans: list[ModelPlan], client: HubClient | None, settings: FetchSettings,
               on_listed: Callable[[str], None] = lambda repo: None,
               ) -> dict[tuple[str, str], ListingOutcome]:
    """Each (repo, revision) listed once; from the cache when offline or the Hub fails.
    Ctrl-C stops at once: no new listing is sent, none in flight is waited for."""
    wanted = sorted({(p.model.repo, p.revision) for p in plans if p.planned})

    def one(key: tuple[str, str]) -> ListingOutcome:
        repo, revision = key
        try:
            if client is None:  # offline
                return _cached_listing(settings.cache, repo, revision, None)
            from ..hub.errors import HubError

            try:
                listing, problems = client.listing(repo, revision)
                return ListingOutcome(listing, problems=problems)
            except HubError as error:
                if not error.unavailable:
                    return ListingOutcome(None, error)
                return _cached_listing(settings.cache, repo, revision, error)
        finally:
            on_listed(repo)

    try:
        return dict(zip(wanted, map_on_daemon_threads(one, wanted, settings.jobs), strict=True))
    except KeyboardInterrupt:
        if client is not None:
            client.cancel()  # a listing waiting to retry stops too
        raise


def _cached_listing(cache: Path, repo: str, revision: str,
                    error: HubError | None) -> ListingOutcome:
    commit = revision if hf_cache.is_commit(revision) else hf_cache.read_ref(cache, repo, revision)
    listing = hf_cache.cached_listing(cache, repo, commit) if commit else None
    if error is None:
        return ListingOutcome(listing, note="offline: resolved from the cache" if listing else None)
    if listing is None:
        return ListingOutcome(None, error)
    hint = " (set HF_TOKEN: rate limits are per IP)" if error.kind == "rate_limited" else ""
    return ListingOutcome(listing, note=f"Hub unavailable, using the cached snapshot{hint}: "
                                        f"{error}", hub_unavailable=True)


def resolve_plans(plans: list[ModelPlan], listing_of: Callable[[ModelPlan], ListingOutcome],
                  settings: FetchSettings,
                  jobs: dict[tuple[str, str, str], FileJob] | None = None,
                  download: Download | None = None) -> list[FileJob]:
    """Attach file jobs to plans; returns the distinct jobs (shared between models, and with
    the plans resolved before when their `jobs` are given). A framework's model is planned by
    its rules, which may read a small file first: `download` fetches it (None: a dry run)."""
    jobs = {} if jobs is None else jobs
    for plan in plans:
        if not plan.planned:
            continue
        outcome = listing_of(plan)
        plan.note, plan.hub_unavailable = outcome.note, outcome.hub_unavailable
        if outcome.listing is None:
            plan.fail(str(outcome.error) if outcome.error else outcome.missing or (
                f"{plan.model.repo}: not in the cache (no refs/{plan.revision} or snapshot)"),
                offline=settings.offline)
            continue
        listing, pinned_by = outcome.listing, settings.lock_path if outcome.locked else None
        job_for = _job_maker(jobs, plan.model.repo, settings, pinned_by)
        planned = _planned_files(plan, listing, settings,
                                 functools.partial(job_for, commit=listing.commit), download)
        if planned is None:
            continue
        files, plan.commit = planned
        plan.files += [job_for(file, commit=plan.commit) for file in files]
        disagree = [job for job in plan.files if job.status is FileStatus.FAILED]
        if disagree:  # the lock and the cache: the model fails, its ref is not written
            plan.fail(disagree[0].error or disagree[0].label, offline=settings.offline)
    return list(jobs.values())


def _job_maker(jobs: dict[tuple[str, str, str], FileJob], repo: str, settings: FetchSettings,
               pinned_by: str | None) -> Callable[..., FileJob]:
    """The job of a file of `repo` at a commit, made once and shared."""
    def job_for(file: RepoFile, *, commit: str) -> FileJob:
        if (repo, commit, file.path) not in jobs:
            jobs[(repo, commit, file.path)] = _file_job(repo, commit, file, settings, pinned_by)
        return jobs[(repo, commit, file.path)]
    return job_for


def _planned_files(plan: ModelPlan, listing: RepoListing, settings: FetchSettings,
                   job_for: JobFor, download: Download | None,
                   ) -> tuple[tuple[RepoFile, ...], str] | None:
    """The model's files and commit, by llama.cpp's rules or its framework's; None when it
    cannot be planned (then the plan says why)."""
    if plan.model.loader is None:
        try:
            resolution = resolve(plan.model, listing, mmproj=settings.mmproj)
        except ResolutionError as exc:
            plan.fail(_offline_cause(exc) if settings.offline else str(exc),
                      offline=settings.offline)
            return None
        return resolution.files, resolution.commit
    try:
        found = framework_files(plan, listing, settings.cache, job_for, download,
                                settings.overrides)
    except NotFetchedInDryRun as exc:
        plan.set_aside(ModelStatus.SKIPPED, str(exc))
        return None
    except (FrameworkError, UnreadFile) as exc:
        plan.fail(str(exc), offline=settings.offline)
        return None
    plan.absent = found.absent
    return tuple(found.files), listing.commit


def listed_blob_ids(listings: Mapping[tuple[str, str], ListingOutcome],
                    partly_listed: set[str]) -> dict[str, set[str]]:
    """Per repo whose every listing came whole from the Hub, the blob ids of all its files (any
    model's, at any revision this run listed): what a partial of that repo may still be of.
    `partly_listed` (repos pinned by the lock) and repos resolved from the cached snapshot are
    left out: those name only some of their files."""
    blob_ids: dict[str, set[str]] = {}
    partly = set(partly_listed)
    for (repo, _), outcome in listings.items():
        if outcome.listing is None or outcome.hub_unavailable:
            partly.add(repo)
        else:
            blob_ids.setdefault(repo, set()).update(f.blob_id for f in outcome.listing.files)
    return {repo: ids for repo, ids in blob_ids.items() if repo not in partly}


def _offline_cause(exc: ResolutionError) -> str:
    """Offline the listing is the cached snapshot: what it lacks is not in the cache (it may
    well be in the repo)."""
    why = "no such file" if exc.problem.startswith("not in the repo") else exc.problem
    return f"{exc.repo}: {exc.asked}: not in the cache (offline: {why} in the cached snapshot)"


def _file_job(repo: str, commit: str, file: RepoFile, settings: FetchSettings,
              pinned_by: str | None) -> FileJob:
    """Cached in the snapshot, or as a blob of another commit (a new `main` that changed only
    its README keeps every GGUF blob), or to download. Offline, only the snapshot counts:
    that is all llama.cpp's offline lookup reads. A file the lock pins fails when the cache
    holds it with another size or id than the lock's (`pinned_by` names the lock)."""
    def job(status: FileStatus, **more: Any) -> FileJob:
        return FileJob(repo, commit, file, status, pinned_by=pinned_by, **more)

    disagreement = pinned_by and _lock_disagreement(repo, commit, file, pinned_by, settings)
    if disagreement:
        return job(FileStatus.FAILED, error=disagreement)
    if hf_cache.is_cached(settings.cache, repo, commit, file):
        return job(FileStatus.CACHED)
    if settings.offline:
        return job(FileStatus.MISSING)
    blob = hf_cache.cached_blob(settings.cache, repo, file)
    if blob is not None:
        return job(FileStatus.CACHED, link_from=blob)
    partial = hf_cache.resumable_partial(settings.cache, repo, file)
    return job(FileStatus.DOWNLOAD, resumed=present_in(partial, file.size, file.blob_id))


def _lock_disagreement(repo: str, commit: str, file: RepoFile, lock_path: str,
                       settings: FetchSettings) -> str | None:
    """How the copy in the cache differs from the lock's size and id, or None. The copy is
    never removed for it: its blob is named after its own content, which the lock may have
    wrong (and a copy outside `blobs/` is checked by size, and by --verify)."""
    held = hf_cache.cached_copy(settings.cache, repo, commit, file)
    if held is None:
        return None
    name, size = held
    if size == file.size and name in (None, file.blob_id):
        return None
    kind = "sha256" if file.sha256 else "git oid"
    cached = name[:12] if name else "a copy"
    return (f"{file_label(repo, file.path)}: the lock says {kind} {file.blob_id[:12]} "
            f"(size {file.size}), the cached file is {cached} (size {size}): "
            f"{lock_fix(lock_path)}")


def link_cached_blobs(jobs: list[FileJob], settings: FetchSettings) -> None:
    """Put the blobs planned as cached into their new snapshots (no request is made)."""
    for job in jobs:
        if job.link_from is None:
            continue
        try:
            hf_cache.link_blob(settings.cache, job.repo, job.commit, job.file, job.link_from)
        except OSError as error:
            job.fail(f"{job.label}: cannot link the cached blob into the snapshot: "
                     f"{error.strerror or error}")
        job.link_from = None


def finish_plans(plans: list[ModelPlan], settings: FetchSettings) -> None:
    """Model status from its files; refs are written only for models that are complete."""
    for plan in plans:
        if not plan.planned:
            continue
        failed = [job for job in plan.files
                  if job.status in (FileStatus.FAILED, FileStatus.DOWNLOAD)]
        if failed:
            plan.fail(failed[0].error or f"{failed[0].label}: not downloaded", offline=False)
            continue
        downloaded = any(job.status is FileStatus.DOWNLOADED for job in plan.files)
        plan.status = ModelStatus.DOWNLOADED if downloaded else ModelStatus.CACHED
        if plan.commit and plan.absent:
            mark_absent(settings.cache, plan.model.repo, plan.commit, plan.absent)
        if plan.commit and not hf_cache.is_commit(plan.revision):  # never run offline
            hf_cache.write_ref(settings.cache, plan.model.repo, plan.commit, plan.revision)


def mark_offline(plans: list[ModelPlan]) -> None:
    """Offline, a resolved model is present when every file is in its snapshot."""
    for plan in plans:
        if not plan.planned:
            continue
        missing = [job for job in plan.files if job.status is not FileStatus.CACHED]
        if missing:
            plan.fail(f"{missing[0].label}: not in the cache", offline=True)
        else:
            plan.status = ModelStatus.CACHED
