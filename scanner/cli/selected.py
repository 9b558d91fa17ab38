"""The scan a task works on: the suite's references (URLs to the configured endpoint's host
too), narrowed to the tests a selection (pytest arguments) runs, and what those tests fetch
from the Hub themselves; once fetched, what the tests that follow get (offline or not)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import NoTestsSelected, SetupError, nothing_selected
from ..models import ScanResult
from ..output import log
from ..scan.suite import scan_suite
from ..selection.collect import collect_tests, run_environment
from ..selection.needs import SelectedScan, narrow
from ..selection.network import NetworkNeed, loads_frameworks, network_needs
from ..setup import environment, preflight
from .options import Options


@dataclass(frozen=True)
class SelectedFetch:
    """A fetch for the tests a run selects (`commands.select_then_fetch`): its exit code, the
    scan narrowed to the selection (None: the whole suite), what those tests fetch from the
    Hub themselves."""

    code: int
    selected: SelectedScan | None
    network: list[NetworkNeed]

    def tests_env(self, *, online: bool, offline: bool, switch: str = "--online",
                  hub_cache: Path | None = None) -> dict[str, str]:
        """Once every model the tests need is in place, llama-server needs the Hub for
        nothing: the tests get LLAMA_ARG_OFFLINE=1 (llama.cpp's `load_all` would ask it about
        every preset at every start), and when they load models through a framework, also
        `HF_OFFLINE` (huggingface_hub and transformers then read the cache only). Not after a
        failed fetch, not with --online (`online`) or an offline run, and not when selected
        tests fetch from the Hub themselves (they may hand llama-server a URL).
        `switch`: what keeps it online where the note is read (the plugin has no --online).
        `hub_cache`: where huggingface_hub looks in the tests, when not in the fetch's cache
        (the plugin's tests, with HF_HUB_CACHE set apart from LLAMA_CACHE): no HF switch."""
        if self.code or online or offline:
            return {}
        if self.network:
            log.note("note: llama-server stays online: selected tests fetch from the Hub at "
                     "run time (see `network:` above)")
            return {}
        if self.selected is not None and loads_frameworks(self.selected.scan) and hub_cache:
            log.note(f"note: the tests' huggingface_hub reads {hub_cache} (HF_HUB_CACHE), not "
                     "the fetch's cache: tests that load through a framework stay online "
                     "(HF_HUB_CACHE set to the fetch's cache runs them offline)")
        elif self.selected is not None and loads_frameworks(self.selected.scan):
            log.note("note: every model the tests need is in place: they run offline "
                     f"(LLAMA_ARG_OFFLINE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1; {switch} "
                     "keeps them online)")
            return {"LLAMA_ARG_OFFLINE": "1", **environment.HF_OFFLINE}
        log.note("note: every model the tests need is in place: llama-server runs offline "
                 f"(LLAMA_ARG_OFFLINE=1; {switch} keeps it online)")
        return {"LLAMA_ARG_OFFLINE": "1"}


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

