"""The one place where what a task did (an outcome of `scanner/output/outcomes.py`) becomes what the
user sees at its end: the text or the `--json` document, the CI step summary, and the exit
code. The exit-code rules are all here (`exit_code`); usage errors (2) and Ctrl-C (130) come
before any outcome, from the commands' wrapper."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import ExitCode
from ..models import ScanResult
from .outcomes import Fetched, Listed, LlamaFetched, Locked, Outcome, Pruned, ServerTestsRun


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
    _shown(outcome, as_, code)
    return code


@functools.singledispatch
def exit_code(outcome: Outcome, *, strict: bool) -> int:
    """1 when the task did not do its job: a model failed or is missing, the downloads were
    refused, the lock is stale or could not be resolved or written, the cache could not be
    read; else the strict rule (`scan_code`). `test.server`: pytest's code, or the fetch's
    when the tests never ran, or 130 when Ctrl-C stopped them. (One rule per outcome below,
    each beside how the outcome is shown.)"""
    raise TypeError(f"not an outcome: {outcome!r}")


@functools.singledispatch
def _shown(outcome: Outcome, as_: ShowAs, code: int) -> None:
    raise TypeError(f"not an outcome: {outcome!r}")


@exit_code.register
def _(outcome: Listed, *, strict: bool) -> int:
    return scan_code(outcome.scan, strict=strict)


@_shown.register
def _(outcome: Listed, as_: ShowAs, code: int) -> None:
    from .scan_report import show_listed

    show_listed(outcome, json=as_.json)


@exit_code.register
def _(outcome: Fetched, *, strict: bool) -> int:
    if outcome.run.refused or not outcome.run.ok:
        return ExitCode.FAILED
    return scan_code(outcome.scan, strict=strict)


@_shown.register
def _(outcome: Fetched, as_: ShowAs, code: int) -> None:
    from .fetch_report import show_fetched
    from .step_summary import append_step_summary, fetch_markdown

    show_fetched(outcome, json=as_.json)
    if not outcome.settings.dry_run:
        append_step_summary(as_.env, fetch_markdown(outcome.run, outcome.seconds,
                                                    str(outcome.settings.cache)))


@exit_code.register
def _(outcome: LlamaFetched, *, strict: bool) -> int:
    return ExitCode.FAILED if outcome.failed else scan_code(outcome.scan, strict=strict)


@_shown.register
def _(outcome: LlamaFetched, as_: ShowAs, code: int) -> None:
    from .llama_report import show_llama_fetched

    show_llama_fetched(outcome, json=as_.json)


@exit_code.register
def _(outcome: Locked, *, strict: bool) -> int:
    return ExitCode.OK if outcome.state in ("written", "up to date") else ExitCode.FAILED


@_shown.register
def _(outcome: Locked, as_: ShowAs, code: int) -> None:
    from .lock_report import show_locked

    show_locked(outcome)


@exit_code.register
def _(outcome: Pruned, *, strict: bool) -> int:
    return ExitCode.FAILED if outcome.unreadable else ExitCode.OK


@_shown.register
def _(outcome: Pruned, as_: ShowAs, code: int) -> None:
    from .prune_report import show_pruned

    show_pruned(outcome)


@exit_code.register
def _(outcome: ServerTestsRun, *, strict: bool) -> int:
    if outcome.pytest_code is None:
        return outcome.fetch_code
    return ExitCode.INTERRUPTED if outcome.interrupted else outcome.pytest_code


@_shown.register
def _(outcome: ServerTestsRun, as_: ShowAs, code: int) -> None:
    from .server_report import show_tests_ended
    from .step_summary import append_step_summary, tests_markdown

    show_tests_ended(outcome)
    append_step_summary(as_.env, tests_markdown(outcome.pytest_line, code))


def scan_code(scan: ScanResult, *, strict: bool) -> ExitCode:
    """The exit code of a run that did its job otherwise: 1 with `--strict` when the scan has
    diagnostics (every task that scans says it so), else 0."""
    return ExitCode.FAILED if strict and scan.diagnostics else ExitCode.OK

