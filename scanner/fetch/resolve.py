"""Resolving, the phase before any model file is downloaded: each repo listed once (or the
lock's pins read), llama.cpp's choice of files made, remote presets followed to the models
they name, URL files given their place, cached copies checked (`--verify`). A fetch goes on
to download what the cache lacks (`run.py`); `models.lock` stops here and pins the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..errors import SetupError
from ..models import Diagnostic, RepoListing, ScanResult, model_sort_key
from .content import verify_cached
from .jobs import FetchRun, FetchSettings, FileJob, FileStatus, ListingOutcome, ModelPlan
from .place import destination_clashes, plan_placements
from .plan import list_repos, listed_blob_ids, locked_listing, make_plans, resolve_plans
from .presets import MAX_DEPTH, follow_presets

if TYPE_CHECKING:
    from ..hub.client import HubClient
    from .reporting import ProgressSink


class Display(Protocol):
    def listing(self, repos: list[str], endpoint: str, *,
                offline: bool) -> AbstractContextManager[Callable[[str], None]]:
        """Listings are under way: the callback hears of each repo done."""

    def planned(self, run: FetchRun) -> None:
        """The plan is made: show it (before any download starts)."""

    def downloading(self, total_bytes: int) -> AbstractContextManager[ProgressSink]:
        """The progress display around the downloads."""


@dataclass
class Resolved:
    """The plan (`run`, shown before anything else is downloaded) and what the downloads
    need to know of the listings."""

    run: FetchRun
    listings: dict[tuple[str, str], ListingOutcome]
    known_repos: set[str]  # the repos the lock pins or the record holds (not listed)

    def blob_ids(self) -> dict[str, set[str]]:
        """The blob ids of every file of each repo the Hub listed whole."""
        return listed_blob_ids(self.listings, self.known_repos)


def resolve_models(scan: ScanResult, settings: FetchSettings, display: Display) -> FetchRun:
    """`models.lock`: every model resolved as a fetch resolves it, the Hub asked for each
    repo; of the files only the presets are fetched (the models they name must be known)."""
    with hub_client(settings) as client:
        return resolve(scan, settings, display, client, fetch_presets=True).run


def hub_client(settings: FetchSettings) -> HubClient:
    """The run's client of the Hub (its stack loads here: never for an offline run)."""
    from ..hub.client import HubClient

    return HubClient(settings.endpoint, settings.token, settings.cache,
                     timeout=settings.timeout, tries=settings.tries)


def resolve(scan: ScanResult, settings: FetchSettings, display: Display,
            client: HubClient | None, *, fetch_presets: bool) -> Resolved:
    """List and resolve (following remote presets to the models they name, fetching the
    presets the cache lacks when `fetch_presets`), then show the plan. Two URL files the
    suite would read at one path are a SetupError before any request."""
    plans = make_plans(scan, settings)
    clashes = destination_clashes(plans, settings)
    if clashes:
        raise SetupError("\n".join(clashes))

    def pinned_by_lock(plan: ModelPlan) -> bool:
        # a URL reference is pinned by its URL (a framework's call by its revision)
        return (settings.locked is not None and not plan.model.revision
                and (settings.lock_strict or plan.model in settings.locked))

    def known(plan: ModelPlan) -> bool:  # its files are known without a request
        return pinned_by_lock(plan) or settings.recorded.listing(plan.model) is not None

    listings: dict[tuple[str, str], ListingOutcome] = {}

    def listing_of(plan: ModelPlan) -> ListingOutcome:
        if pinned_by_lock(plan):
            return locked_listing(plan, settings)
        recorded = settings.recorded.listing(plan.model)
        if recorded is not None:
            return ListingOutcome(recorded)
        return listings[(plan.model.repo, plan.revision)]

    def download(jobs: list[FileJob]) -> None:  # preset files, before the plan is made
        from .download import download_all

        assert client is not None
        with display.downloading(sum(job.file.size for job in jobs)) as progress:
            download_all(jobs, client, settings, progress)

    presets = download if client is not None and fetch_presets else None
    jobs: dict[tuple[str, str, str], FileJob] = {}
    diagnostics: list[Diagnostic] = []
    pending = plans
    for _ in range(MAX_DEPTH + 1):  # the suite's models, then those their presets name
        to_list = [p for p in pending if p.planned and not known(p)
                   and (p.model.repo, p.revision) not in listings]  # each listed once
        repos = sorted({p.model.repo for p in to_list})
        with display.listing(repos, settings.endpoint, offline=settings.offline) as listed:
            listings |= list_repos(to_list, client, settings, listed)
        resolve_plans(pending, listing_of, settings, jobs, presets)
        pending = follow_presets(pending, plans, settings, presets, diagnostics,
                                 settings.is_denied)
        if not pending:
            break
    plans.sort(key=lambda plan: model_sort_key(plan.model))
    plan_placements(plans, settings)
    run = FetchRun(plans, list(jobs.values()),
                   [p for outcome in listings.values() for p in outcome.problems],
                   diagnostics=diagnostics,
                   listed=listed_mains(listings) if client is not None else {})
    run.problems += [job.error for job in run.jobs  # the lock and the cache disagree: up front
                     if job.pinned_by and job.status is FileStatus.FAILED and job.error]
    if settings.verify:
        repair = not (settings.dry_run or settings.offline)
        run.problems += verify_cached(run.jobs, settings, repair=repair)
    display.planned(run)
    # a recorded listing is whole, but of the commit recorded, maybe not of the Hub's `main`:
    # a partial of newer content (an interrupted `--latest`) stays for the run that lists
    return Resolved(run, listings, {p.model.repo for p in plans if known(p)})


def listed_mains(listings: Mapping[tuple[str, str], ListingOutcome]) -> dict[str, RepoListing]:
    """Each repo's listing of `main` as the Hub gave it (not a cached snapshot standing in)."""
    return {repo: outcome.listing for (repo, revision), outcome in listings.items()
            if revision == "main" and outcome.listing is not None and not outcome.hub_unavailable}
