"""One native fetch, start to end: scan result and settings in, every model's outcome out.

The caller shows the plan (`Display.planned`) before anything is downloaded, and the downloads
(`Display.downloading`), but decides nothing: the run is here.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from .. import cache as hf_cache
from .. import cache_locks
from ..errors import SetupError
from ..models import Diagnostic, ScanResult, model_sort_key
from .content import verify_cached
from .jobs import FetchSettings, FileJob, FileStatus, ListingOutcome, ModelPlan
from .place import destination_clashes, place_files, plan_placements
from .plan import (
    finish_plans,
    link_cached_blobs,
    list_repos,
    listed_blob_ids,
    locked_listing,
    make_plans,
    mark_offline,
    resolve_plans,
)
from .presets import MAX_DEPTH, follow_presets

if TYPE_CHECKING:
    from ..hub import HubClient
    from .reporting import ProgressSink


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


class Display(Protocol):
    def listing(self, repos: list[str], endpoint: str, *,
                offline: bool) -> AbstractContextManager[Callable[[str], None]]:
        """Listings are under way: the callback hears of each repo done."""

    def planned(self, run: FetchRun) -> None:
        """The plan is made: show it (before any download starts)."""

    def downloading(self, total_bytes: int) -> AbstractContextManager[ProgressSink]:
        """The progress display around the downloads."""


def run_fetch(scan: ScanResult, settings: FetchSettings, display: Display) -> FetchRun:
    """List each repo once, resolve as llama.cpp would (following remote presets to the models
    they name), then (unless offline or a dry run) download what the cache lacks. Ctrl-C raises
    `FetchInterrupted` once downloads stopped; two URL files the suite would read at one path
    are a SetupError before any request."""
    if settings.offline:  # offline, the Hub stack is not even imported
        return _run(scan, settings, display, None)
    from .on_demand import OnDemandClient

    with OnDemandClient(settings) as client:  # made when first asked: a warm run asks nothing
        return _run(scan, settings, display, client.as_client())


def _run(scan: ScanResult, settings: FetchSettings, display: Display,
         client: HubClient | None) -> FetchRun:
    plans = make_plans(scan, settings)
    clashes = destination_clashes(plans, settings)
    if clashes:
        raise SetupError("\n".join(clashes))

    def pinned_by_lock(plan: ModelPlan) -> bool:
        # a URL reference is pinned by its URL; a framework's model is not pinned (the lock's
        # lines do not say which loader reads a file)
        return (settings.locked is not None and not plan.model.revision
                and plan.model.loader is None
                and (settings.lock_strict or plan.model in settings.locked))

    def known(plan: ModelPlan) -> bool:  # its files are known without a request
        return pinned_by_lock(plan) or plan.model in settings.recorded

    listings: dict[tuple[str, str], ListingOutcome] = {}

    def listing_of(plan: ModelPlan) -> ListingOutcome:
        if pinned_by_lock(plan):
            return locked_listing(plan, settings)
        if plan.model in settings.recorded:
            return ListingOutcome(settings.recorded[plan.model])
        return listings[(plan.model.repo, plan.revision)]

    def download(jobs: list[FileJob]) -> None:  # preset files, before the plan is made
        from .download import download_all

        assert client is not None
        with display.downloading(sum(job.file.size for job in jobs)) as progress:
            download_all(jobs, client, settings, progress)

    fetches_presets = client is not None and (not settings.dry_run or settings.presets_in_dry_run)
    jobs: dict[tuple[str, str, str], FileJob] = {}
    diagnostics: list[Diagnostic] = []
    pending = plans
    for _ in range(MAX_DEPTH + 1):  # the suite's models, then those their presets name
        to_list = [p for p in pending if p.planned and not known(p)
                   and (p.model.repo, p.revision) not in listings]  # each listed once
        repos = sorted({p.model.repo for p in to_list})
        with display.listing(repos, settings.endpoint, offline=settings.offline) as listed:
            listings |= list_repos(to_list, client, settings, listed)
        resolve_plans(pending, listing_of, settings, jobs,
                      download if fetches_presets else None)
        pending = follow_presets(pending, plans, settings, download if fetches_presets else None,
                                 diagnostics, settings.is_denied)
        if not pending:
            break
    plans.sort(key=lambda plan: model_sort_key(plan.model))
    plan_placements(plans, settings)
    run = FetchRun(plans, list(jobs.values()),
                   [p for outcome in listings.values() for p in outcome.problems],
                   diagnostics=diagnostics)
    run.problems += [job.error for job in run.jobs  # the lock and the cache disagree: up front
                     if job.pinned_by and job.status is FileStatus.FAILED and job.error]
    if settings.verify:
        repair = not (settings.dry_run or settings.offline)
        run.problems += verify_cached(run.jobs, settings, repair=repair)
    display.planned(run)
    if settings.offline:  # nothing to download: a dry run reports the same
        mark_offline(plans)
        if not settings.dry_run:
            place_files(plans, settings)  # from the cache: no network needed
        return run
    if settings.dry_run:
        return run
    blob_ids = listed_blob_ids(listings, {p.model.repo for p in plans if known(p)})
    _store(run, client, settings, display, blob_ids)
    finish_plans(plans, settings)
    place_files(plans, settings)
    return run


def _store(run: FetchRun, client: HubClient | None, settings: FetchSettings,
           display: Display, blob_ids: dict[str, set[str]]) -> None:
    """Link cached blobs into new snapshots, then download what is missing, unless the cache
    cannot be written to or has no room (then nothing is requested, and `run.refused` says).
    `blob_ids`: those of every file of each repo the Hub listed whole."""
    jobs = run.jobs
    todo = [job for job in jobs if job.status is FileStatus.DOWNLOAD]
    links = [job for job in jobs if job.link_from is not None]
    run.needed_bytes = sum(job.file.size - job.resumed for job in todo)
    writable = hf_cache.writable(settings.cache)
    repos = sorted({job.repo for job in jobs}) if writable else []
    # partials nothing will resume go first, so that the room they took counts as free:
    # huggingface_hub's (it never resumes them), and ours of content the Hub has replaced
    cache = settings.cache
    stale = [size for repo in repos for size in cache_locks.remove_stale_partials(cache, repo)]
    outdated = [size for repo in repos if repo in blob_ids
                for size in cache_locks.remove_outdated_partials(cache, repo, blob_ids[repo])]
    run.free_bytes = free_space(settings.cache)
    if (todo or links) and not writable:
        run.refused = "read-only"
        for job in todo:
            job.not_downloaded("not downloaded: the cache cannot be written to")
        for job in links:
            job.fail(f"{job.label}: cannot link the cached blob: the cache cannot be written to")
    else:
        link_cached_blobs(links, settings)  # costs no space and no request
        if run.needed_bytes > run.free_bytes:
            run.refused = "no-space"
            for job in todo:
                job.not_downloaded("not downloaded: not enough free space")
        else:
            assert client is not None  # not offline
            with display.downloading(run.needed_bytes) as progress:
                if stale:
                    progress.partials_removed(len(stale), sum(stale))
                if outdated:
                    progress.outdated_partials_removed(len(outdated), sum(outdated))
                if todo:  # the download module loads the Hub stack: only for something to get
                    from .download import download_all

                    download_all(jobs, client, settings, progress)


def free_space(path: Path) -> int:
    """Free bytes where the cache is, or would be created."""
    return shutil.disk_usage(hf_cache.nearest_existing(path)).free
