"""The work behind each Invoke task; each returns the process exit code."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec
from urllib.parse import urlsplit

from .. import environment, lock, preflight, prune
from ..errors import ExitCode, OptionsError, SetupError
from ..keep import what_to_keep
from ..models import ScanResult
from ..output import log
from ..output.console import human_size, make_console, print_json
from ..output.scan_report import print_scan, scan_code, scan_json, selection_entry
from ..scan.suite import NoTestFiles, scan_suite
from ..selection.collect import collect_tests, run_environment
from ..selection.needs import SelectedScan, narrow
from ..selection.network import needs_entry, network_lines, network_needs
from .options import Options

if TYPE_CHECKING:
    from ..fetch.jobs import FetchSettings

P = ParamSpec("P")


def _usage_errors(command: Callable[P, int]) -> Callable[P, int]:
    """Nothing matched, a lock that cannot be read or a setting that cannot work: one message
    and exit 2, whichever task. Ctrl-C in any phase: one line and exit 130."""
    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        if isinstance(args[0], Options):
            log.setup(args[0].models.verbosity)
        try:
            return command(*args, **kwargs)
        except (NoTestFiles, lock.LockError, OptionsError, SetupError) as exc:
            log.error(f"error: {exc}")
            return ExitCode.USAGE
        except KeyboardInterrupt as exc:
            log.error(f"interrupted: {str(exc) or _NOTHING_CHANGED[command.__name__]}")
            return ExitCode.INTERRUPTED
    return run


#: What an interrupted task left, when it was stopped before doing anything lasting.
_NOTHING_CHANGED = {
    "list_models": "stopped by Ctrl-C",
    "fetch_models": "stopped by Ctrl-C before any download; nothing was fetched",
    "lock_models": "stopped by Ctrl-C; the lock file was not changed",
    "prune_models": "stopped by Ctrl-C; what was listed before it stays in the cache",
}


def check_setup(options: Options, env: Mapping[str, str], *, hub: bool) -> None:
    """What a run needs from the user's setup, checked before the first request: a usable cache
    folder and, when the Hub is to be asked (`hub`), an http(s) endpoint and a clean token."""
    environment.check_cache_dir(env, options.cache_dir)
    if hub:
        environment.check_endpoint(env)
        environment.token(env)


@_usage_errors
def list_models(options: Options, env: Mapping[str, str] | None = None) -> int:
    """`models.list`: exit 1 with --strict and diagnostics, 2 when nothing matched."""
    env = os.environ if env is None else env
    result, selected = scan_selected(options, env)
    network = network_needs(result, selected.selection if selected else None,
                            urls=options.models.urls)
    if options.models.json:
        print_json({**scan_json(result, selected), "network_needs": needs_entry(network)})
    else:
        print_scan(result, make_console(), selected, network_lines(network, offline=False))
    return scan_code(result, strict=options.models.strict)


def scan_selected(options: Options,
                  env: Mapping[str, str]) -> tuple[ScanResult, SelectedScan | None]:
    """The scan, narrowed to `options.selection` when there is one (see `select_for`)."""
    scan = scan_suite(options.root, options.scan, endpoint_host(env))
    selected = select_for(options, scan, env)
    return (scan if selected is None else selected.scan), selected


def select_for(options: Options, scan: ScanResult,
               env: Mapping[str, str]) -> SelectedScan | None:
    """The scan narrowed to the tests `options.selection` runs; None without a selection. A
    collection that fails is a SetupError: the selection asked for cannot be replaced by the
    whole suite."""
    if options.selection is None:
        return None
    missing = options.missing_suite()
    if missing:
        raise SetupError(missing)
    python = preflight.suite_python(options.python, env, options.root)
    log.debug(f"collecting with {python.path} ({python.source})")
    cache = environment.cache_dir(env, options.cache_dir)
    run_env = run_environment(env, cache, offline=False, slow=False)
    names = (*options.scan.repo_names, *options.scan.file_names)
    selection = collect_tests(options.suite_dir, options.root, options.selection, run_env, names,
                              python.path)
    if selection.error:
        raise SetupError(preflight.collection_error(python, selection.error, selection.output,
                                                    options.suite_dir) +
                         "\nNothing was fetched for a selection that cannot be known "
                         "(without `-- PYTEST ARGS`: the whole suite)")
    return narrow(scan, selection, options.scan)


@_usage_errors
def fetch_models(options: Options, env: Mapping[str, str] | None = None,
                 selected: SelectedScan | None = None) -> int:
    """`models.fetch`: exit 1 if any model failed or is missing, 2 when nothing matched,
    130 on Ctrl-C (after the downloads in flight have stopped, their partial files kept).
    `selected`: a scan the caller (`test.server`) already narrowed, fetched as it is."""
    env = os.environ if env is None else env
    check_setup(options, env, hub=not options.models.offline)
    if selected is not None:
        return _fetch_models(options, selected.scan, env, selected)
    scan, selected = scan_selected(options, env)
    return _fetch_models(options, scan, env, selected)


def _fetch_models(options: Options, scan: ScanResult, env: Mapping[str, str],
                  selected: SelectedScan | None) -> int:
    if options.models.backend == "llama":
        if options.models.locked:
            log.error("error: --locked works with the native backend only (llama.cpp's "
                      "downloader always asks the Hub for `main`)")
            return ExitCode.USAGE
        from .llama_backend import fetch_with_llama_backend

        return fetch_with_llama_backend(options, scan, env, selected)
    # the Hub stack (huggingface_hub, httpx) loads only for a native fetch
    from ..fetch.run import run_fetch
    from ..output.fetch_report import FetchDisplay, fetch_json, print_summary
    from ..output.step_summary import append_step_summary, fetch_markdown

    settings = fetch_settings(options, env)
    console = make_console()
    started = time.monotonic()
    network = network_needs(scan, selected.selection if selected else None,
                            urls=options.models.urls)
    display = FetchDisplay(console, scan, selected, quiet=options.models.json or log.quiet(),
                           network=network,
                           offline=settings.offline or bool(selected and selected.offline))
    run = run_fetch(scan, settings, display)
    if run.refused == "no-space":
        log.error(f"error: not enough free space in {settings.cache}: "
                  f"{human_size(run.needed_bytes)} to download, {human_size(run.free_bytes)} "
                  "free; nothing was downloaded")
    elif run.refused == "read-only":
        log.error(f"error: the cache {settings.cache} cannot be written to (a read-only "
                  f"mount?): {human_size(run.needed_bytes)} to download; nothing was downloaded")
    seconds = time.monotonic() - started
    if options.models.json:
        print_json(fetch_json(run, settings, [*scan.diagnostics, *run.diagnostics],
                              selection_entry(selected), network))
    elif not settings.dry_run or settings.offline:
        print_summary(run, settings, seconds, console)
    if not settings.dry_run:
        append_step_summary(env, fetch_markdown(run, seconds, str(settings.cache)))
    if run.refused or not run.ok:
        return ExitCode.FAILED
    return scan_code(scan, strict=options.models.strict)


def fetch_settings(options: Options, env: Mapping[str, str]) -> FetchSettings:
    """Cache, endpoint and token as llama.cpp reads them, plus the run's flags; with
    `--locked`, the lock's pinned files (a LockError when it cannot be read)."""
    from ..fetch.jobs import FetchSettings

    locked = None
    if options.models.locked or (not options.models.latest and options.lock_path.is_file()):
        locked = lock.listings(lock.read(options.lock_path))
        log.debug(f"the lock {options.lock_path} pins {len(locked)} model(s): their repos "
                  "are not listed")
    return FetchSettings(
        cache=environment.cache_dir(env, options.cache_dir), endpoint=environment.endpoint(env),
        token=environment.token(env), jobs=options.models.jobs,
        connections=options.models.connections,
        offline=options.models.offline,
        mmproj=options.models.mmproj, urls=options.models.urls, verify=options.models.verify,
        dry_run=options.models.dry_run, timeout=options.models.timeout,
        tries=options.models.tries, locked=locked, lock_strict=options.models.locked,
        lock_path=str(options.lock_path),
        place_in=options.suite_dir if options.suite_dir.is_dir() else None,
        url_dest=options.models.url_dest, deny=options.scan.deny)


@_usage_errors
def lock_models(options: Options, env: Mapping[str, str] | None = None, *,
                check: bool = False) -> int:
    """`models.lock`: resolve every (selected) reference and write the lock, or with `check`
    say whether the lock on disk is what would be written (exit 1 when stale). The lock on
    disk is read (`--check`), or its place checked, before the Hub is asked anything."""
    from ..fetch.run import run_fetch
    from ..output.fetch_report import FetchDisplay

    env = os.environ if env is None else env
    check_setup(options, env, hub=True)
    path = options.lock_path
    if check:  # a lock that cannot be read is exit 2, never "stale"
        current = lock.read_text(path, missing="")
        if current:
            lock.parse(current, path)
    else:
        lock.check_destination(path)
    scan, selected = scan_selected(options, env)
    unlocked = dataclasses.replace(options, models=dataclasses.replace(
        options.models, locked=False, latest=True, offline=False, dry_run=True, verify=False))
    settings = dataclasses.replace(fetch_settings(unlocked, env), presets_in_dry_run=True)
    run = run_fetch(scan, settings, FetchDisplay(make_console(), scan, selected, quiet=True))
    # a cached snapshot standing in for the Hub may be behind `main`: never pinned or checked
    failed = [plan for plan in run.plans if plan.status.bad or plan.hub_unavailable]
    for plan in failed:
        log.error(f"error: {plan.model.label()}: {plan.error or plan.note}")
    if failed:
        log.error(f"error: {len(failed)} model(s) could not be resolved; {path} was "
                  f"{'not checked' if check else 'not written'}")
        return ExitCode.FAILED
    entries = [lock.LockEntry(plan.model, job.commit, job.file)  # a URL pins itself: not here
               for plan in run.plans if plan.commit and not plan.model.revision
               for job in plan.files]
    text = lock.render(entries)
    if check:
        return _check_lock(path, current, text, len(entries))
    return _write_lock(path, text, entries)


def _check_lock(path: Path, current: str, text: str, files: int) -> int:
    """Lines compared, not bytes: a lock checked out with CRLF is up to date when its lines
    are (`models.lock` would write them with LF)."""
    if lock.lines(current) == lock.lines(text):
        print(f"{path} is up to date ({files} files)")
        return ExitCode.OK
    log.error(f"{path} is stale: `invoke models.lock` would change it")
    for line in difflib.unified_diff(lock.lines(current), lock.lines(text), "on disk", "now",
                                     lineterm="", n=0):
        log.error(f"    {line}")
    return ExitCode.FAILED


def _write_lock(path: Path, text: str, entries: list[lock.LockEntry]) -> int:
    try:
        lock.write(path, text)
    except OSError as exc:
        log.error(f"error: cannot write {path}: {exc.strerror or exc}")
        return ExitCode.FAILED
    models = len({entry.model for entry in entries})
    print(f"wrote {path}: {models} models, {len(entries)} files")
    return ExitCode.OK


def endpoint_host(env: Mapping[str, str]) -> str | None:
    """The configured endpoint's host, so URLs pointing at a mirror are recognised too."""
    host = urlsplit(environment.endpoint(env)).netloc
    return host or None


@_usage_errors
def prune_models(options: Options, env: Mapping[str, str] | None = None, *, yes: bool = False,
                 unreferenced: bool = False) -> int:
    """`models.prune`: list (or with `yes` remove) what the suite no longer needs in the cache."""
    env = os.environ if env is None else env
    check_setup(options, env, hub=False)
    scan = scan_suite(options.root, options.scan, endpoint_host(env))
    cache = environment.cache_dir(env, options.cache_dir)
    keep = what_to_keep(scan, cache, lock_path=options.lock_path, suite_dir=options.suite_dir,
                        url_dest=options.models.url_dest)
    try:
        items = prune.plan_prune(cache, keep.repos, keep.pinned, unreferenced=unreferenced,
                                 placed=keep.placed)
    except OSError as exc:
        log.error(f"error: cannot read the cache {cache}: {exc}")
        return ExitCode.FAILED
    console = make_console()
    for item in items:
        size = human_size(item.size) if item.kind != "snapshot" else "-"
        console.print(f"{item.kind:<9} {size:>9}  {item.path.relative_to(cache)}", markup=False)
    total = human_size(sum(item.size for item in items))
    if not yes:
        console.print(f"{len(items)} item(s), {total} in {cache}"
                      + ("; run with --yes to remove them" if items else ""), markup=False)
        return ExitCode.OK

    def in_use(item: prune.PruneItem, lock_held: str) -> None:
        console.print(f"left      {item.path.relative_to(cache)}: in use by a download "
                      f"({lock_held} is held)", markup=False)

    removed = prune.apply(cache, items, in_use)
    busy = len(items) - len(removed)
    console.print(f"removed {len(removed)} item(s), {human_size(sum(i.size for i in removed))} "
                  f"from {cache}" + (f"; {busy} in use by a download, left" if busy else ""),
                  markup=False)
    return ExitCode.OK
