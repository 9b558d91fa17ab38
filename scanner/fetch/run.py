"""One native fetch, start to end: scan result and settings in, every model's outcome out.
Resolving comes first (`resolve.py`: the plan, shown before any model file is downloaded),
then the downloads of what the cache lacks and the URL files' placing.

The caller shows the plan (`Display.planned`) and the downloads (`Display.downloading`), but
decides nothing: the run is here.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ..cache import layout as hf_cache
from ..cache import locks as cache_locks
from ..models import ScanResult
from .jobs import FetchRun, FetchSettings, FileStatus
from .place import place_files
from .plan import finish_plans, link_cached_blobs, mark_offline
from .resolve import Display, resolve

if TYPE_CHECKING:
    from ..hub.client import HubClient


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
    resolved = resolve(scan, settings, display, client, fetch_presets=not settings.dry_run)
    run, plans = resolved.run, resolved.run.plans
    if settings.offline:  # nothing to download: a dry run reports the same
        mark_offline(plans)
        if not settings.dry_run:
            place_files(plans, settings)  # from the cache: no network needed
        return run
    if settings.dry_run:
        return run
    _store(run, client, settings, display, resolved.blob_ids())
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
