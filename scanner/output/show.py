"""The one place where what a task did (an outcome of `scanner/output/outcomes.py`) becomes what the
user sees at its end: the text or the `--json` document, the CI step summary, and the exit
code. The exit-code rules are all here (`exit_code`); usage errors (2) and Ctrl-C (130) come
before any outcome, from the commands' wrapper."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import ExitCode
from ..models import ScanResult
from .outcomes import Fetched, Listed, LlamaFetched, Locked, Outcome, Pruned


@dataclass(frozen=True)
class ShowAs:
    """How the user asked to see an outcome."""

    json: bool = False  # `--json`: one document on stdout instead of the text
    strict: bool = False  # `--strict`: the scan's diagnostics fail the run
    env: Mapping[str, str] = field(default_factory=dict)  # its $GITHUB_STEP_SUMMARY, if set


def show(outcome: Outcome, as_: ShowAs) -> int:
    """Print the end of a task as `as_` asks, append its CI step summary; its exit code.
    (The fetch's reports load with a fetch only: `models.list` starts without them.)"""
    code = exit_code(outcome, strict=as_.strict)
    if isinstance(outcome, Listed):
        from .scan_report import show_listed

        show_listed(outcome, json=as_.json)
    elif isinstance(outcome, Fetched):
        from .fetch_report import show_fetched
        from .step_summary import append_step_summary, fetch_markdown

        show_fetched(outcome, json=as_.json)
        if not outcome.settings.dry_run:
            append_step_summary(as_.env, fetch_markdown(outcome.run, outcome.seconds,
                                                        str(outcome.settings.cache)))
    elif isinstance(outcome, LlamaFetched):
        from .llama_report import show_llama_fetched

        show_llama_fetched(outcome, json=as_.json)
    elif isinstance(outcome, Locked):
        from .lock_report import show_locked

        show_locked(outcome)
    elif isinstance(outcome, Pruned):
        from .prune_report import show_pruned

        show_pruned(outcome)
    else:
        from .server_report import show_tests_ended
        from .step_summary import append_step_summary, tests_markdown

        show_tests_ended(outcome)
        append_step_summary(as_.env, tests_markdown(outcome.pytest_line, code))
    return code


def exit_code(outcome: Outcome, *, strict: bool) -> int:
    """1 when the task did not do its job: a model failed or is missing, the downloads were
    refused, the lock is stale or could not be resolved or written, the cache could not be
    read; else the strict rule (`scan_code`). `test.server`: pytest's code, or the fetch's
    when the tests never ran, or 130 when Ctrl-C stopped them."""
    if isinstance(outcome, Listed):
        return scan_code(outcome.scan, strict=strict)
    if isinstance(outcome, Fetched):
        if outcome.run.refused or not outcome.run.ok:
            return ExitCode.FAILED
        return scan_code(outcome.scan, strict=strict)
    if isinstance(outcome, LlamaFetched):
        return ExitCode.FAILED if outcome.failed else scan_code(outcome.scan, strict=strict)
    if isinstance(outcome, Locked):
        return ExitCode.OK if outcome.state in ("written", "up to date") else ExitCode.FAILED
    if isinstance(outcome, Pruned):
        return ExitCode.FAILED if outcome.unreadable else ExitCode.OK
    if outcome.pytest_code is None:
        return outcome.fetch_code
    return ExitCode.INTERRUPTED if outcome.interrupted else outcome.pytest_code


def scan_code(scan: ScanResult, *, strict: bool) -> ExitCode:
    """The exit code of a run that did its job otherwise: 1 with `--strict` when the scan has
    diagnostics (every task that scans says it so), else 0."""
    return ExitCode.FAILED if strict and scan.diagnostics else ExitCode.OK

