"""`models.fetch --backend llama`: llama.cpp's own downloader, once per model, on the same
cache and endpoint; what it prints and its exit code."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from rich.console import Console

from .. import environment
from ..errors import ExitCode
from ..fetch.llama import (
    LlamaBinary,
    LlamaNotFound,
    LlamaOutcome,
    fetch_with_llama,
    find_llama_binary,
    llama_command,
    unsupported_reason,
)
from ..fetch.plan import is_model_url
from ..models import HuggingFaceModel, ScanResult
from ..output import log
from ..output.console import make_console, print_diagnostics, print_json
from ..output.fetch_report import needed_by
from ..output.scan_report import scan_code, selection_entry, selection_line
from ..selection.needs import SelectedScan
from .options import Options


def fetch_with_llama_backend(options: Options, scan: ScanResult, env: Mapping[str, str],
                             selected: SelectedScan | None = None) -> int:
    """`--backend llama`: llama.cpp's own downloader, once per model, same cache and endpoint."""
    try:
        binary = find_llama_binary(options.root, options.models.llama_bin, env)
    except LlamaNotFound as exc:
        log.error(f"error: {exc}")
        return ExitCode.USAGE
    models = [m for m in scan.fetchable()  # a URL to an image is the tests' to fetch
              if m.revision is None or (options.models.urls and is_model_url(m))]
    console, quiet = make_console(), options.models.json
    if not quiet:
        print_diagnostics(scan.diagnostics, console)
        if selected is not None:
            console.print(selection_line(selected), markup=False)
    if options.models.dry_run:
        _print_llama_plan(binary, models, options.models.offline, console, quiet, selected)
        return scan_code(scan, strict=options.models.strict)

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
    return ExitCode.FAILED if failed else scan_code(scan, strict=options.models.strict)


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
