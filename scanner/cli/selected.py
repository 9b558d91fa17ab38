"""The scan a task works on: the suite's references (URLs to the configured endpoint's host
too), narrowed to the tests a selection (pytest arguments) runs, and what those tests fetch
from the Hub themselves."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from .. import environment, preflight
from ..errors import NoTestsSelected, SetupError, nothing_selected
from ..models import ScanResult
from ..output import log
from ..scan.suite import scan_suite
from ..selection.collect import collect_tests, run_environment
from ..selection.needs import SelectedScan, narrow
from ..selection.network import NetworkNeed, network_needs
from .options import Options


def needs_of(scan: ScanResult, selected: SelectedScan | None,
             options: Options) -> list[NetworkNeed]:
    """What the (selected) tests fetch from the Hub themselves at run time: with llama.cpp's
    downloader (`--backend llama`), a framework's models too."""
    return network_needs(scan, selected.selection if selected else None,
                         urls=options.models.urls,
                         frameworks=options.models.backend != "llama")


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
                              python.path, options.collect_timeout)
    if selection.error:
        raise SetupError(preflight.collection_error(python, selection.error, selection.output,
                                                    options.suite_dir) +
                         "\nNothing was fetched for a selection that cannot be known "
                         "(without pytest arguments: the whole suite)")
    if not selection.tests:
        raise NoTestsSelected(nothing_selected(shlex.join(["pytest", *options.selection]),
                                               options.suite_dir))
    return narrow(scan, selection, options.scan)


def suite_scan(options: Options, env: Mapping[str, str]) -> ScanResult:
    """The suite's scan for a fetch, kept in the cache for the next one while no file it read
    changed (`scan/remembered.py`)."""
    from ..cache import TOOL_FOLDER
    from ..scan.remembered import remembered_scan

    store = environment.cache_dir(env, options.cache_dir) / TOOL_FOLDER / "scans"
    return remembered_scan(options.root, options.scan, endpoint_host(env), store)


def endpoint_host(env: Mapping[str, str]) -> str | None:
    """The configured endpoint's host, so URLs pointing at a mirror are recognised too."""
    host = environment.url_host(environment.endpoint(env))
    return host or None
