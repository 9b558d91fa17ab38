"""The work behind each Invoke task: each computes its outcome (`scanner/output/outcomes.py`) and
returns what `output/show.py` makes of it, the process exit code."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import OptionsError
from ..fetch import lock
from ..llama.url_files import prepare_working_folders
from ..models import ScanResult
from ..output import log
from ..output.console import make_console
from ..output.outcomes import Fetched, Listed, Locked, Pruned
from ..output.prune_report import print_left_in_use, print_prune_items
from ..output.show import ShowAs, show
from ..prune import unneeded as prune
from ..prune.keep import what_to_keep
from ..scan.suite import scan_suite
from ..selection.collect import Selection
from ..selection.needs import SelectedScan, narrow
from ..selection.network import NetworkNeed
from ..setup import environment
from .options import Options
from .selected import SelectedFetch, endpoint_host, needs_of, scan_selected, suite_scan
from .usage import usage_errors

if TYPE_CHECKING:
    from ..fetch.jobs import FetchRun, FetchSettings


@usage_errors("stopped by Ctrl-C")
def list_models(options: Options, env: Mapping[str, str] | None = None) -> int:
    """`models.list`: exit 1 with --strict and diagnostics, 2 when nothing matched."""
    env = os.environ if env is None else env
    result, selected = scan_selected(options, env)
    return show(Listed(result, selected, needs_of(result, selected, options)),
                _show_as(options, env))


def _show_as(options: Options, env: Mapping[str, str]) -> ShowAs:
    return ShowAs(json=options.models.json, strict=options.models.strict, env=env)


#: What Ctrl-C left when it stopped a fetch before its first download.
_NOTHING_FETCHED = "stopped by Ctrl-C before any download; nothing was fetched"


@usage_errors(_NOTHING_FETCHED)
def fetch_models(options: Options, env: Mapping[str, str] | None = None) -> int:
    """`models.fetch`: exit 1 if any model failed or is missing, 2 when nothing matched,
    130 on Ctrl-C (after the downloads in flight have stopped, their partial files kept)."""
    return select_then_fetch(options, os.environ if env is None else env).code


def select_then_fetch(options: Options, env: Mapping[str, str],
                      collected: Selection | None = None, *, offline: bool = False,
                      suite: ScanResult | None = None) -> SelectedFetch:
    """`models.fetch` for the tests a run selects, the one path of the task, `test.server` and
    the plugin: those pytest `collected` for the run that waits (test.server's, the plugin's
    session; `offline`: that run's; `suite`: the suite's scan, when the caller made it
    already), else those `options.selection` selects (collected here once the setup is
    checked), else the whole suite. A scan or a selection that fails raises (each caller says
    it its own way); the fetch's own failures are its exit code."""
    if collected is None:
        environment.check_settings(env, options.cache_dir, hub=not options.models.offline)
        scan, selected = scan_selected(options, env)
    else:
        suite = suite or suite_scan(options, env)
        selected = narrow(suite, collected, options.scan, offline=offline)
        scan = selected.scan
        prepare_working_folders(options.suite_dir, options.models.url_dest)  # its tests follow
    network = needs_of(scan, selected, options)
    return SelectedFetch(fetch_scan(options, env, scan, selected, network), selected, network)


def offline_from_the_start(options: Options, env: Mapping[str, str],
                           suite: ScanResult) -> dict[str, str]:
    """The offline switches a complete fetch gives the plugin's tests (`SelectedFetch.
    tests_env`), given before pytest collects them: huggingface_hub reads `HF_HUB_OFFLINE`
    once, when a test module imports it at collection, long before the fetch that follows
    the collection. Given only where the fetch would give them: the suite loads models
    through a framework, and no test fetches from the Hub itself; the tests run only once
    the fetch has brought every model they need (else the session ends before its first
    test). Not for llama.cpp alone: llama-server reads LLAMA_ARG_OFFLINE when a test
    starts it, after the fetch. `suite`: the suite's scan."""
    from ..selection.network import loads_frameworks

    if (options.models.offline or options.models.backend == "llama"
            or environment.hub_cache_apart(env, options.cache_dir)):
        return {}  # huggingface_hub would look elsewhere than the fetch's cache
    if not loads_frameworks(suite) or needs_of(suite, None, options):
        return {}
    return {"LLAMA_ARG_OFFLINE": "1", **environment.HF_OFFLINE}


@usage_errors(_NOTHING_FETCHED)
def fetch_scan(options: Options, env: Mapping[str, str], scan: ScanResult,
               selected: SelectedScan | None, network: list[NetworkNeed]) -> int:
    """The fetch of `scan` (narrowed to `selected`), whose tests fetch `network` themselves."""
    environment.check_settings(env, options.cache_dir, hub=not options.models.offline)
    if options.models.backend == "llama":
        if options.models.locked:
            raise OptionsError("--locked works with the native backend only (llama.cpp's "
                               "downloader always asks the Hub for `main`)")
        from .llama_backend import fetch_with_llama_backend

        return show(fetch_with_llama_backend(options, scan, env, selected),
                    _show_as(options, env))
    return show(_fetch_natively(options, scan, env, selected, network), _show_as(options, env))


def _fetch_natively(options: Options, scan: ScanResult, env: Mapping[str, str],
                    selected: SelectedScan | None, network: list[NetworkNeed]) -> Fetched:
    # the Hub stack (huggingface_hub, httpx) loads only for a native fetch
    from ..fetch.recorded import recordable, recordable_listings, write_listings, write_record
    from ..fetch.run import run_fetch
    from ..output.fetch_report import FetchDisplay

    settings = fetch_settings(options, env)
    started = time.monotonic()
    display = FetchDisplay(make_console(), scan, selected,
                           quiet=options.models.json or log.quiet(), network=network,
                           offline=settings.offline or bool(selected and selected.offline))
    run = run_fetch(scan, settings, display)
    if not (settings.dry_run or settings.offline):
        write_record(settings.cache, recordable(run.plans), mmproj=settings.mmproj)
        write_listings(settings.cache, recordable_listings(run))
    return Fetched(scan, selected, network, settings, run, time.monotonic() - started)


def fetch_settings(options: Options, env: Mapping[str, str]) -> FetchSettings:
    """Cache, endpoint and token as llama.cpp reads them, plus the run's flags; with
    `--locked`, the lock's pinned files (a LockError when it cannot be read); unless
    `--latest`, what the last fetch on this cache resolved that is still complete in it."""
    from ..fetch.jobs import FetchSettings, Recorded
    from ..fetch.recorded import complete_in_cache, listings_in_cache

    locked = None
    if options.models.locked or (not options.models.latest and options.lock_path.is_file()):
        locked = lock.listings(lock.read(options.lock_path))
        log.debug(f"the lock {options.lock_path} pins {len(locked)} model(s): their repos "
                  "are not listed")
    cache = environment.cache_dir(env, options.cache_dir)
    models = options.models
    recorded = (Recorded() if models.latest or models.locked or models.offline
                else Recorded(complete_in_cache(cache, mmproj=models.mmproj),
                              listings_in_cache(cache)))
    return FetchSettings(
        cache=cache, endpoint=environment.endpoint(env),
        token=environment.token(env), jobs=options.models.jobs,
        connections=options.models.connections,
        offline=options.models.offline,
        mmproj=options.models.mmproj, urls=options.models.urls, verify=options.models.verify,
        dry_run=options.models.dry_run, timeout=options.models.timeout,
        tries=options.models.tries, locked=locked, lock_strict=options.models.locked,
        lock_path=str(options.lock_path),
        place_in=options.suite_dir if options.suite_dir.is_dir() else None,
        url_dest=options.models.url_dest, deny=options.scan.deny, recorded=recorded,
        overrides={repo: tuple(files) for repo, files in (options.models.files or {}).items()})


@usage_errors("stopped by Ctrl-C; the lock file was not changed")
def lock_models(options: Options, env: Mapping[str, str] | None = None, *,
                check: bool = False) -> int:
    """`models.lock`: resolve every (selected) reference and write the lock, or with `check`
    say whether the lock on disk is what would be written (exit 1 when stale). The lock on
    disk is read (`--check`), or its place checked, before the Hub is asked anything."""
    from ..fetch.resolve import resolve_models
    from ..output.fetch_report import FetchDisplay

    env = os.environ if env is None else env
    environment.check_settings(env, options.cache_dir, hub=True)
    path = options.lock_path
    on_disk: str | None = None
    if check:  # a lock that cannot be read is exit 2, never "stale"
        on_disk = lock.read_text(path, missing="")
        if on_disk:
            lock.parse(on_disk, path)
    else:
        lock.check_destination(path)
    scan, selected = scan_selected(options, env)
    unlocked = dataclasses.replace(options, models=dataclasses.replace(
        options.models, locked=False, latest=True, offline=False, verify=False))
    settings = dataclasses.replace(fetch_settings(unlocked, env),
                                   place_in=None)  # a lock places nothing
    # the small files a framework's rules read first (an index) are fetched, as presets are
    run = resolve_models(scan, settings, FetchDisplay(make_console(), scan, selected, quiet=True))
    return show(_lock_outcome(path, run, on_disk), _show_as(options, env))


def _lock_outcome(path: Path, run: FetchRun, on_disk: str | None) -> Locked:
    """The lock `run` resolved, compared with the one `on_disk` (`--check`; "" when there is
    none), else written."""
    check = on_disk is not None
    # a cached snapshot standing in for the Hub may be behind `main`: never pinned or checked
    failed = [plan for plan in run.plans if plan.status.bad or plan.hub_unavailable]
    if failed:
        return Locked(path, "unresolved", [], failed, check=check)
    entries = [lock.LockEntry(plan.model, job.commit, job.file)  # a URL pins itself: not here
               for plan in run.plans if plan.commit and not plan.model.revision
               for job in plan.files]
    text = lock.render(entries)
    if on_disk is not None:
        diff = lock.changes(on_disk, text)
        return Locked(path, "stale" if diff else "up to date", entries, [], check=True,
                      diff=diff)
    try:
        lock.write(path, text)
    except OSError as exc:
        return Locked(path, "not written", entries, [], write_error=str(exc.strerror or exc))
    return Locked(path, "written", entries, [])


@usage_errors("stopped by Ctrl-C; what was listed before it stays in the cache")
def prune_models(options: Options, env: Mapping[str, str] | None = None, *, yes: bool = False,
                 unreferenced: bool = False) -> int:
    """`models.prune`: list (or with `yes` remove) what the suite no longer needs in the cache."""
    env = os.environ if env is None else env
    environment.check_settings(env, options.cache_dir, hub=False)
    scan = scan_suite(options.root, options.scan, endpoint_host(env))
    cache = environment.cache_dir(env, options.cache_dir)
    keep = what_to_keep(scan, cache, lock_path=options.lock_path, suite_dir=options.suite_dir,
                        url_dest=options.models.url_dest)
    try:
        items = prune.plan_prune(cache, keep.repos, keep.pinned, unreferenced=unreferenced,
                                 placed=keep.placed)
    except OSError as exc:
        return show(Pruned(cache, [], unreadable=str(exc)), _show_as(options, env))
    console = make_console()
    print_prune_items(items, cache, console)  # before anything is removed
    removed = None
    if yes:
        removed = prune.apply(cache, items, lambda item, lock_held: print_left_in_use(
            item, lock_held, cache, console))
    return show(Pruned(cache, items, removed), _show_as(options, env))
