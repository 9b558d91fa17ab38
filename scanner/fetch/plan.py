"""`models.fetch`: list each repo once, resolve like llama.cpp, download what the cache lacks.

The run is a plan (model -> files, cached or not) followed by parallel downloads of the
distinct files, each checked against the Hub's sha256 before the run calls it done.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .. import cache as hf_cache
from .. import environment
from ..hub import Cancelled, HubClient, HubError
from ..models import HuggingFaceModel, ModelReference, RepoFile, RepoListing, ScanResult
from ..options import Options
from ..output.console import human_size
from ..output.progress import FetchProgress
from ..resolve import ResolutionError, resolve

FileStatus = Literal["cached", "download", "downloaded", "failed", "missing"]
ModelStatus = Literal["planned", "cached", "downloaded", "failed", "missing", "denied", "skipped"]

#: Exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: How long Ctrl-C waits for downloads in flight to stop and delete their partial files.
CANCEL_GRACE_S = 3.0
INTERRUPTED = "interrupted before it finished"


class FetchInterrupted(KeyboardInterrupt):
    """Ctrl-C during the downloads, after they were stopped; the message says what is left."""


@dataclass
class FileJob:
    """One distinct file of the run; shared by every model that needs it."""

    repo: str
    commit: str
    file: RepoFile
    status: FileStatus
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.repo}/{self.file.path}"


@dataclass
class ModelPlan:
    model: HuggingFaceModel
    references: list[ModelReference]
    status: ModelStatus = "planned"
    commit: str | None = None
    files: list[FileJob] = field(default_factory=list)
    error: str | None = None
    note: str | None = None

    @property
    def revision(self) -> str:
        return self.model.revision or "main"


@dataclass
class ListingOutcome:
    listing: RepoListing | None
    error: HubError | None = None
    note: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class FetchSettings:
    cache: Path
    endpoint: str
    token: str | None
    jobs: int = 4
    offline: bool = False
    mmproj: bool = True
    urls: bool = False
    verify: bool = False


def fetch_settings(options: Options, env: Mapping[str, str]) -> FetchSettings:
    """Cache, endpoint and token as llama.cpp reads them, plus the run's flags."""
    return FetchSettings(
        cache=environment.cache_dir(env, options.cache_dir), endpoint=environment.endpoint(env),
        token=env.get("HF_TOKEN") or None, jobs=options.jobs, offline=options.offline,
        mmproj=options.mmproj, urls=options.urls, verify=options.verify)


def make_plans(scan: ScanResult, settings: FetchSettings) -> list[ModelPlan]:
    """One plan per distinct model; denied and (without --urls) URL references are set aside."""
    plans = []
    for model in scan.models():
        plan = ModelPlan(model, scan.references_to(model))
        if model in scan.denied:
            plan.status, plan.note = "denied", "on the deny list"
        elif model.revision and not settings.urls:
            plan.status, plan.note = "skipped", "URL reference: fetched only with --urls"
        plans.append(plan)
    return plans


def list_repos(plans: list[ModelPlan], client: HubClient,
               settings: FetchSettings) -> dict[tuple[str, str], ListingOutcome]:
    """Each (repo, revision) listed once; from the cache when offline or the Hub fails."""
    wanted = sorted({(p.model.repo, p.revision) for p in plans if p.status == "planned"})

    def one(key: tuple[str, str]) -> ListingOutcome:
        repo, revision = key
        if settings.offline:
            return _cached_listing(settings.cache, repo, revision, None)
        try:
            listing, problems = client.listing(repo, revision)
            return ListingOutcome(listing, problems=problems)
        except HubError as error:
            if not error.retriable:
                return ListingOutcome(None, error)
            return _cached_listing(settings.cache, repo, revision, error)

    with ThreadPoolExecutor(max_workers=settings.jobs) as pool:
        return dict(zip(wanted, pool.map(one, wanted), strict=True))


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
                                        f"{error}")


def resolve_plans(plans: list[ModelPlan], listings: dict[tuple[str, str], ListingOutcome],
                  settings: FetchSettings) -> list[FileJob]:
    """Attach file jobs to plans; returns the distinct jobs (shared between models)."""
    jobs: dict[tuple[str, str, str], FileJob] = {}
    for plan in plans:
        if plan.status != "planned":
            continue
        outcome = listings[(plan.model.repo, plan.revision)]
        plan.note = outcome.note
        if outcome.listing is None:
            plan.status = "missing" if settings.offline else "failed"
            plan.error = str(outcome.error) if outcome.error else (
                f"{plan.model.repo}: not in the cache (no refs/{plan.revision} or snapshot)")
            continue
        try:
            resolution = resolve(plan.model, outcome.listing, mmproj=settings.mmproj)
        except ResolutionError as exc:
            plan.status = "missing" if settings.offline else "failed"
            plan.error = str(exc)
            continue
        plan.commit = resolution.commit
        for file in resolution.files:
            repo, commit = plan.model.repo, resolution.commit
            if (repo, commit, file.path) not in jobs:
                cached = hf_cache.is_cached(settings.cache, repo, commit, file)
                jobs[(repo, commit, file.path)] = FileJob(
                    repo, commit, file,
                    "cached" if cached else ("missing" if settings.offline else "download"))
            plan.files.append(jobs[(repo, commit, file.path)])
    return list(jobs.values())


def free_space(path: Path) -> int:
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def check_content(path: Path, file: RepoFile, removed: bool = True) -> str | None:
    """Compare the cached bytes with the Hub's id (sha256 for LFS, git blob sha1 otherwise)."""
    if file.sha256:
        actual = hf_cache.sha256_of(path)
        expected = file.sha256
    else:
        data = path.read_bytes()
        actual = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        expected = file.oid
    if actual == expected:
        return None
    return (f"content does not match the Hub's {'sha256' if file.sha256 else 'git oid'} "
            f"(expected {expected[:12]}, got {actual[:12]})"
            + ("; removed from the cache" if removed else ""))


def verify_cached(jobs: list[FileJob], settings: FetchSettings, *, repair: bool) -> list[str]:
    """`--verify`: re-hash cached files and return what did not match.

    With `repair` a mismatch is removed and planned for download again; without it (a dry run,
    offline) nothing in the cache is touched and the file counts as missing.
    """
    problems = []
    for job in jobs:
        if job.status != "cached":
            continue
        path = hf_cache.snapshot_path(settings.cache, job.repo, job.commit, job.file.path)
        problem = check_content(path, job.file, removed=repair)
        if problem is None:
            continue
        problems.append(f"{job.label}: cached copy {problem}")
        if repair:
            hf_cache.remove_cached_file(settings.cache, job.repo, job.commit, job.file)
        job.status = "download" if repair else "missing"
        job.error = None if repair else problems[-1]
    return problems


def download_all(jobs: list[FileJob], client: HubClient, settings: FetchSettings,
                 progress: FetchProgress) -> None:
    """Download every job marked `download`, `settings.jobs` at a time.

    A failed file never raises: its job records why. Ctrl-C cancels the downloads in flight
    (huggingface_hub deletes their partial files as they unwind) and raises `FetchInterrupted`.
    The workers are daemon threads so that one stuck in a read cannot hold the process open.
    """
    remove_stale_partials(jobs, settings, progress)
    todo = deque(job for job in jobs if job.status == "download")
    count = min(settings.jobs, len(todo))
    workers = [_Worker(todo, client, settings, progress) for _ in range(count)]
    try:
        for worker in workers:
            worker.start()
        _join(workers)
    except KeyboardInterrupt:
        raise _stop(jobs, workers, client) from None


class _Worker:
    """One daemon download thread that signals its own end.

    `Thread.is_alive()` cannot be trusted here: a Ctrl-C that interrupts `Thread.join()` makes
    CPython before 3.13 mark the joined thread finished while it still runs
    (python/cpython#90882), and the run would exit before that download removed its partial.
    """

    def __init__(self, todo: deque[FileJob], client: HubClient, settings: FetchSettings,
                 progress: FetchProgress) -> None:
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(todo, client, settings, progress),
                                        name="download", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self, todo: deque[FileJob], client: HubClient, settings: FetchSettings,
             progress: FetchProgress) -> None:
        try:
            _work(todo, client, settings, progress)
        finally:
            self.finished.set()


def remove_stale_partials(jobs: list[FileJob], settings: FetchSettings,
                          progress: FetchProgress) -> None:
    """Partial files of killed runs are never resumed by huggingface_hub: delete them."""
    sizes = [size for repo in sorted({job.repo for job in jobs})
             for size in hf_cache.remove_stale_partials(settings.cache, repo)]
    if sizes:
        progress.note(f"removed {len(sizes)} partial download(s) of an interrupted run "
                      f"({human_size(sum(sizes))}); downloads restart from the beginning")


def _work(todo: deque[FileJob], client: HubClient, settings: FetchSettings,
          progress: FetchProgress) -> None:
    """One download thread: takes jobs until none is left or the run is cancelled."""
    while not client.cancelled:
        try:
            job = todo.popleft()
        except IndexError:
            return
        _download(job, client, settings, progress)


def _download(job: FileJob, client: HubClient, settings: FetchSettings,
              progress: FetchProgress) -> None:
    advance, started = progress.file_started(job.label, job.file.size)
    try:
        path = client.download(job.repo, job.commit, job.file, advance)
        problem = check_content(path, job.file)
        if problem:
            job.error = f"{job.repo} {job.file.path}: {problem}"
            hf_cache.remove_cached_file(settings.cache, job.repo, job.commit, job.file)
    except Cancelled:
        job.status, job.error = "failed", INTERRUPTED
        progress.file_cancelled(job.label)
        return
    except HubError as error:
        job.error = str(error)
    except OSError as error:
        job.error = f"{job.label}: {error}"
    job.status = "failed" if job.error else "downloaded"
    progress.file_done(job.label, job.file.size, started, job.error)


def _join(workers: list[_Worker], deadline: float | None = None) -> None:
    """Wait in short slices, so that Ctrl-C reaches the main thread at once."""
    for worker in workers:
        while not worker.finished.wait(0.1):
            if deadline is not None and time.monotonic() >= deadline:
                return


def _stop(jobs: list[FileJob], workers: list[_Worker],
          client: HubClient) -> FetchInterrupted:
    """Cancel the downloads, give them `CANCEL_GRACE_S` to clean up, say what is left."""
    client.cancel()
    _join(workers, time.monotonic() + CANCEL_GRACE_S)
    stopped = [job for job in jobs if job.status == "download" or job.error == INTERRUPTED]
    for job in stopped:
        job.status, job.error = "failed", INTERRUPTED
    done = sum(job.status == "downloaded" for job in jobs)
    stuck = sum(not worker.finished.is_set() for worker in workers)
    cleanup = ("partial files removed" if not stuck else
               f"{stuck} did not stop in time: the next run removes their partial files")
    return FetchInterrupted(f"{len(stopped)} file(s) not downloaded, {done} completed before "
                            f"Ctrl-C ({cleanup}); run models.fetch again to finish")


def finish_plans(plans: list[ModelPlan], settings: FetchSettings) -> None:
    """Model status from its files; refs are written only for models that are complete."""
    for plan in plans:
        if plan.status != "planned":
            continue
        failed = [job for job in plan.files if job.status in ("failed", "download")]
        if failed:
            plan.status = "failed"
            plan.error = failed[0].error or f"{failed[0].label}: not downloaded"
            continue
        downloaded = any(job.status == "downloaded" for job in plan.files)
        plan.status = "downloaded" if downloaded else "cached"
        if plan.commit and not settings.offline and not hf_cache.is_commit(plan.revision):
            hf_cache.write_ref(settings.cache, plan.model.repo, plan.commit, plan.revision)


def mark_offline(plans: list[ModelPlan]) -> None:
    """Offline, a resolved model is present when every file is in its snapshot."""
    for plan in plans:
        if plan.status != "planned":
            continue
        missing = [job for job in plan.files if job.status != "cached"]
        plan.status = "missing" if missing else "cached"
        if missing:
            plan.error = f"{missing[0].label}: not in the cache"
