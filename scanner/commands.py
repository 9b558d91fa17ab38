"""The work behind each Invoke task; each returns the process exit code."""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from rich.console import Console

from . import environment
from .errors import ExitCode
from .fetch.llama import (
    LlamaBinary,
    LlamaNotFound,
    LlamaOutcome,
    fetch_with_llama,
    find_llama_binary,
    llama_command,
    unsupported_reason,
)
from .fetch.plan import FetchSettings
from .models import HuggingFaceModel, ScanResult
from .options import Options
from .output.console import human_size, make_console, print_diagnostics, print_json
from .output.fetch_report import needed_by
from .output.scan_report import (
    print_scan,
    print_selection_error,
    scan_json,
    selection_entry,
    selection_line,
)
from .scan.suite import NoTestFiles, scan_suite
from .selection.collect import Selection, collect_tests, run_environment
from .selection.needs import SelectedScan, narrow


def list_models(options: Options, env: Mapping[str, str] | None = None) -> int:
    """`models.list`: exit 1 with --strict and diagnostics, 2 when nothing matched."""
    env = os.environ if env is None else env
    try:
        result, selected = scan_selected(options, env)
    except NoTestFiles as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if options.models.json:
        print_json(scan_json(result, selected))
    else:
        print_scan(result, make_console(), selected)
    return ExitCode.FAILED if options.models.strict and result.diagnostics else ExitCode.OK


def scan_selected(options: Options, env: Mapping[str, str], *, offline: bool = False,
                  slow: bool = False) -> tuple[ScanResult, SelectedScan | None]:
    """The scan, narrowed to `options.selection` when there is one (see `select_for`)."""
    scan = scan_suite(options.root, options.scan, _endpoint_host(env))
    selected = select_for(options, scan, env, offline=offline, slow=slow)
    print_selection_error(selected)
    return (scan if selected is None else selected.scan), selected


def select_for(options: Options, scan: ScanResult, env: Mapping[str, str],
               *, offline: bool = False, slow: bool = False) -> SelectedScan | None:
    """The scan narrowed to the tests `options.selection` runs; None without a selection.
    `offline` and `slow` give the collection the environment of a `test.server` run."""
    if options.selection is None:
        return None
    folder = options.root / options.suite
    if not folder.is_dir():
        error = f"test suite folder {folder} does not exist (set test.suite or --suite)"
        return SelectedScan(scan, Selection(arguments=options.selection, error=error),
                            len(scan.models()))
    cache = environment.cache_dir(env, options.cache_dir)
    run_env = run_environment(env, cache, offline=offline, slow=slow)
    names = (*options.scan.repo_names, *options.scan.file_names)
    selection = collect_tests(folder, options.root, options.selection, run_env, names)
    return narrow(scan, selection, options.scan)


def fetch_models(options: Options, env: Mapping[str, str] | None = None,
                 selected: SelectedScan | None = None) -> int:
    """`models.fetch`: exit 1 if any model failed or is missing, 2 when nothing matched,
    130 on Ctrl-C (after the downloads in flight have stopped and removed their partials).
    `selected`: a scan the caller (`test.server`) already narrowed, fetched as it is."""
    env = os.environ if env is None else env
    try:
        if selected is not None:
            return _fetch_models(options, selected.scan, env, selected)
        try:
            scan, selected = scan_selected(options, env)
        except NoTestFiles as exc:
            print(f"error: {exc}", file=sys.stderr)
            return ExitCode.USAGE
        return _fetch_models(options, scan, env, selected)
    except KeyboardInterrupt as exc:
        print(f"interrupted: {str(exc) or 'stopped by Ctrl-C'}", file=sys.stderr)
        return ExitCode.INTERRUPTED


def _fetch_models(options: Options, scan: ScanResult, env: Mapping[str, str],
                  selected: SelectedScan | None) -> int:
    if options.models.backend == "llama":
        return fetch_with_llama_backend(options, scan, env, selected)
    from .fetch.run import run_fetch  # the Hub stack loads only for a native fetch
    from .output.fetch_report import FetchDisplay, fetch_json, print_summary

    settings = fetch_settings(options, env)
    console = make_console()
    started = time.monotonic()
    display = FetchDisplay(console, scan, selected, quiet=options.models.json)
    run = run_fetch(scan, settings, display)
    if run.refused:
        print(f"error: {run.refused}: {human_size(run.needed_bytes)} to download, "
              f"{human_size(run.free_bytes)} free; nothing was downloaded", file=sys.stderr)
    if options.models.json:
        print_json(fetch_json(run, settings, list(scan.diagnostics), selection_entry(selected)))
    elif not settings.dry_run or settings.offline:
        print_summary(run.plans, settings, time.monotonic() - started, console)
    if run.refused or not run.ok:
        return ExitCode.FAILED
    return ExitCode.FAILED if options.models.strict and scan.diagnostics else ExitCode.OK


def fetch_settings(options: Options, env: Mapping[str, str]) -> FetchSettings:
    """Cache, endpoint and token as llama.cpp reads them, plus the run's flags."""
    return FetchSettings(
        cache=environment.cache_dir(env, options.cache_dir), endpoint=environment.endpoint(env),
        token=env.get("HF_TOKEN") or None, jobs=options.models.jobs, offline=options.models.offline,
        mmproj=options.models.mmproj, urls=options.models.urls, verify=options.models.verify,
        dry_run=options.models.dry_run)


def _endpoint_host(env: Mapping[str, str]) -> str | None:
    """The configured endpoint's host, so URLs pointing at a mirror are recognised too."""
    host = urlsplit(environment.endpoint(env)).netloc
    return host or None


def fetch_with_llama_backend(options: Options, scan: ScanResult, env: Mapping[str, str],
                             selected: SelectedScan | None = None) -> int:
    """`--backend llama`: llama.cpp's own downloader, once per model, same cache and endpoint."""
    try:
        binary = find_llama_binary(options.root, options.models.llama_bin, env)
    except LlamaNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    models = [m for m in scan.fetchable() if options.models.urls or m.revision is None]
    console, quiet = make_console(), options.models.json
    if not quiet:
        print_diagnostics(scan.diagnostics, console)
        if selected is not None:
            console.print(selection_line(selected), markup=False)
    if options.models.dry_run:
        _print_llama_plan(binary, models, options.models.offline, console, quiet, selected)
        return ExitCode.FAILED if options.models.strict and scan.diagnostics else ExitCode.OK

    def report(outcome: LlamaOutcome) -> None:
        if not quiet:
            console.print(f"{'fetched' if outcome.ok else 'FAILED '} {outcome.model.label()}",
                          markup=False)

    outcomes = fetch_with_llama(
        binary, models, cache_dir=environment.cache_dir(env, options.cache_dir),
        endpoint=environment.endpoint(env), offline=options.models.offline, env=env,
        timeout=options.models.llama_timeout, on_done=report)
    failed = [o for o in outcomes if not o.ok]
    if quiet:
        print_json({"backend": "llama", "binary": str(binary.path), "dry_run": False,
                    "models": [_llama_entry(o.model, o.command, o) for o in outcomes],
                    "selection": selection_entry(selected)})
    else:
        for outcome in failed:
            console.print(f"FAILED {outcome.model.label()}: {outcome.message}", markup=False)
            console.print(f"    command: {shlex.join(outcome.command)}", markup=False)
            console.print(f"    needed by: {needed_by(scan.references_to(outcome.model))}",
                          markup=False)
        console.print(f"{len(outcomes)} models: {len(outcomes) - len(failed)} fetched, "
                      f"{len(failed)} failed (llama.cpp: {binary.path})", markup=False)
    bad = failed or (options.models.strict and scan.diagnostics)
    return ExitCode.FAILED if bad else ExitCode.OK


def _print_llama_plan(binary: LlamaBinary, models: list[HuggingFaceModel], offline: bool,
                      console: Console, quiet: bool, selected: SelectedScan | None) -> None:
    """`--dry-run`: the command each model would run, and nothing is run."""
    commands = []
    for model in models:
        reason = unsupported_reason(model)
        commands.append(() if reason else tuple(llama_command(binary, model, offline=offline)))
    if quiet:
        print_json({"backend": "llama", "binary": str(binary.path), "dry_run": True,
                    "models": [_llama_entry(m, c, None) for m, c in zip(models, commands,
                                                                        strict=True)],
                    "selection": selection_entry(selected)})
        return
    for model, command in zip(models, commands, strict=True):
        shown = shlex.join(command) if command else str(unsupported_reason(model))
        console.print(f"{model.label()}: {shown}", markup=False)


def _llama_entry(model: HuggingFaceModel, command: tuple[str, ...],
                 outcome: LlamaOutcome | None) -> dict[str, object]:
    return {"hf_repo": model.hf_repo, "hf_file": model.hf_file, "command": list(command),
            "ok": outcome.ok if outcome else None,
            "returncode": outcome.returncode if outcome else None,
            "message": outcome.message if outcome else None}
