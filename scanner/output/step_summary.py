"""A short Markdown summary for CI, appended to `$GITHUB_STEP_SUMMARY` when it is set: the
place a GitHub Actions user looks first. Writing it never fails the run."""

from __future__ import annotations

from collections.abc import Mapping

from ..fetch.jobs import FetchRun
from . import log
from .console import human_size
from .fetch_report import needed_by, summary_line

SUMMARY_VAR = "GITHUB_STEP_SUMMARY"


def fetch_markdown(run: FetchRun, seconds: float, cache: str) -> str:
    """Models, files and sizes, what was cached or downloaded, and each failure's cause and the
    tests that need it."""
    lines = ["### models.fetch", "",
             f"{summary_line(run, seconds)}; cache `{cache}`", "",
             "| model | files | size | status |", "|---|---|---:|---|"]
    for plan in run.plans:
        size = sum(job.file.size for job in plan.files)
        files = "<br>".join(_cell(job.file.path) for job in plan.files) or "-"
        lines.append(f"| {_cell(plan.model.label())} | {files} | "
                     f"{human_size(size) if plan.files else ''} | {plan.status} |")
    failed = [plan for plan in run.plans if plan.status.bad]
    if failed:
        lines += ["", "**Failed**", ""]
        lines += [f"- `{_cell(plan.model.label())}`: {_cell(plan.error or '')} "
                  f"(needed by {_cell(needed_by(plan.references))})" for plan in failed]
    return "\n".join(lines) + "\n"


def tests_markdown(command: str, code: int) -> str:
    verdict = "passed" if code == 0 else f"failed (exit {code})"
    return f"### test.server\n\n`{_cell(command)}`: {verdict}\n"


def append_step_summary(env: Mapping[str, str], markdown: str) -> None:
    target = env.get(SUMMARY_VAR)
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as out:
            out.write(markdown + "\n")
    except OSError as exc:
        log.warning(f"warning: cannot append to {SUMMARY_VAR} ({target}): "
                    f"{exc.strerror or exc}")


def _cell(text: str) -> str:
    """Text that cannot break a table row or start markup."""
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")
