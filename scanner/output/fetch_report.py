"""Output of `models.fetch`: the plan table, the closing summary (or why nothing was
downloaded), and the `--json` document."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.text import Text

from ..fetch.jobs import (
    FetchRun,
    FetchSettings,
    FileJob,
    FileStatus,
    ModelPlan,
    Placement,
    PlaceStatus,
)
from ..models import Diagnostic, ModelReference, ScanResult
from ..selection.needs import SelectedScan
from ..selection.network import NetworkNeed, needs_entry, network_lines
from ..setup.environment import shown_url
from . import log
from .console import human_size, make_console, print_diagnostics, print_json, print_table
from .outcomes import Fetched
from .progress import FetchProgress
from .scan_report import (
    diagnostic_entry,
    model_fields,
    reference_entry,
    selection_entry,
    selection_line,
)

MAX_NEEDED_BY = 3


class FetchDisplay:
    """What a person sees of a fetch (nothing with `quiet`, the --json run): the plan table
    before the downloads, then one progress display."""

    def __init__(self, console: Console, scan: ScanResult, selected: SelectedScan | None,
                 *, quiet: bool, network: list[NetworkNeed] | None = None,
                 offline: bool = False) -> None:
        self.console, self.scan, self.selected, self.quiet = console, scan, selected, quiet
        self.network, self.offline = network or [], offline

    @contextmanager
    def listing(self, repos: list[str], endpoint: str, *,
                offline: bool) -> Iterator[Callable[[str], None]]:
        """A spinner naming the repos still being listed, on a terminal; one line otherwise."""
        if self.quiet or not repos:
            yield lambda repo: None
            return
        where = "the cache (offline)" if offline else shown_url(endpoint)
        if not self.console.is_terminal:
            self.console.print(f"listing {len(repos)} repo(s) at {where} ...", markup=False)
            yield lambda repo: None
            return
        pending, lock = list(repos), threading.Lock()

        def text() -> Text:
            head = ", ".join(pending[:3]) + (f" +{len(pending) - 3}" if len(pending) > 3 else "")
            return Text(f"listing {len(repos) - len(pending)}/{len(repos)} at {where}: {head}")

        with self.console.status(text()) as status:
            def listed(repo: str) -> None:
                with lock:
                    if repo in pending:
                        pending.remove(repo)
                    status.update(text())
            yield listed

    def planned(self, run: FetchRun) -> None:
        for job in run.jobs:  # the decisions, when verbose
            log.debug(f"{job.label}: {job.status}" + (f" ({job.error})" if job.error else ""))
        if self.quiet:
            return
        print_diagnostics((*self.scan.diagnostics, *run.diagnostics), self.console)
        if self.selected is not None:
            self.console.print(selection_line(self.selected), markup=False)
        print_plan(run.plans, run.jobs, self.console)
        for problem in run.problems:
            self.console.print(f"warning: {problem}", markup=False)
        for place in placements(run.plans, PlaceStatus.DIFFERENT):
            self.console.print(f"warning: {place.error}", markup=False, soft_wrap=True)
        for line in network_lines(self.network, offline=self.offline):
            self.console.print(line, markup=False, soft_wrap=True)

    def downloading(self, total_bytes: int) -> FetchProgress:
        mode = "quiet" if self.quiet else ("bars" if self.console.is_terminal else "lines")
        return FetchProgress(self.console, total_bytes, mode)


def _file_lines(plan: ModelPlan) -> tuple[str, str, str]:
    if not plan.files:
        why = plan.error or plan.note or "-"
        if plan.model.revision and not plan.status.bad:  # a URL set aside: which file
            why = f"{plan.model.hf_file}: {why}"
        return why, "", str(plan.status)
    paths = [job.file.path for job in plan.files]
    sizes = [human_size(job.file.size) for job in plan.files]
    states = ["to download" if job.status is FileStatus.DOWNLOAD else str(job.status)
              for job in plan.files]
    for place in plan.placements:  # where the suite reads a URL's file
        paths.append(f"-> {place.relative}")
        sizes.append("")
        states.append(str(place.status))
    return "\n".join(paths), "\n".join(sizes), "\n".join(states)


def print_plan(plans: list[ModelPlan], jobs: list[FileJob], console: Console) -> None:
    rows = []
    for plan in plans:
        paths, sizes, states = _file_lines(plan)
        name = plan.model.hf_repo
        if plan.model.revision:
            name += f" @ {plan.model.revision}"
        if plan.model.loader:  # one repo loaded two ways is two rows: say whose each is
            name += f" ({plan.model.loader})"
        rows.append((name, paths, sizes, states))
    print_table(console, ("model", "files", "size", "status"), rows, right="size")
    todo = [job for job in jobs if job.status is FileStatus.DOWNLOAD]
    cached = [job for job in jobs if job.status is FileStatus.CACHED]
    resumed = sum(job.resumed for job in todo)
    console.print(
        f"to download: {len(todo)} files, {human_size(sum(j.file.size for j in todo))}"
        + (f" ({human_size(resumed)} of it received by an earlier run: resumed)" if resumed
           else "")
        + f"; already cached: {len(cached)} files, "
          f"{human_size(sum(j.file.size for j in cached))}"
    )


def placements(plans: list[ModelPlan], *statuses: PlaceStatus) -> list[Placement]:
    """The placements of these plans with one of these statuses (any, without)."""
    return [place for plan in plans for place in plan.placements
            if not statuses or place.status in statuses]


def show_fetched(fetched: Fetched, *, json: bool) -> None:
    """The end of a native fetch: why nothing was downloaded (when so), then the `--json`
    document or the summary (a dry run has its plan, unless offline)."""
    run, settings = fetched.run, fetched.settings
    refusal = refusal_message(run, settings)
    if refusal:
        log.error(refusal)
    if json:
        print_json(fetch_json(run, settings, [*fetched.scan.diagnostics, *run.diagnostics],
                              selection_entry(fetched.selected), fetched.network))
    elif not settings.dry_run or settings.offline:
        print_summary(run, settings, fetched.seconds, make_console())


def refusal_message(run: FetchRun, settings: FetchSettings) -> str | None:
    """Why the downloads were refused before any request, or None when they were not."""
    needed = human_size(run.needed_bytes)
    if run.refused == "no-space":
        return (f"error: not enough free space in {settings.cache}: {needed} to download, "
                f"{human_size(run.free_bytes)} free; nothing was downloaded")
    if run.refused == "read-only":
        return (f"error: the cache {settings.cache} cannot be written to (a read-only mount?): "
                f"{needed} to download; nothing was downloaded")
    return None


def print_summary(run: FetchRun, settings: FetchSettings, seconds: float,
                  console: Console) -> None:
    _print_placements(run, settings, console)
    for plan in run.plans:
        if plan.hub_unavailable:
            console.print(f"note: {plan.model.label()}: {plan.note}", markup=False)
    for plan in run.plans:
        if plan.status.bad:
            console.print(f"{str(plan.status).upper()} {plan.model.label()}", markup=False)
            console.print(f"    cause: {plan.error}", markup=False)
            console.print(f"    needed by: {needed_by(plan.references)}", markup=False)
    console.print(f"{summary_line(run, seconds)}; cache: {settings.cache}", markup=False)


def summary_line(run: FetchRun, seconds: float) -> str:
    """The run in one line: the models by status, what was downloaded, how fast."""
    downloaded = run.received_bytes()
    rate = f" ({human_size(downloaded / seconds)}/s)" if downloaded and seconds > 0 else ""
    return (f"{len(run.plans)} models: {run.status_counts()}; downloaded "
            f"{human_size(downloaded)} in {seconds:.1f} s{rate}")


def _print_placements(run: FetchRun, settings: FetchSettings, console: Console) -> None:
    """Where the URL files are now, and any destination left alone (also in the plan)."""
    done = placements(run.plans, PlaceStatus.LINKED, PlaceStatus.COPIED, PlaceStatus.PRESENT)
    if done:
        names = ", ".join(place.relative for place in done)
        console.print(f"URL files in {settings.place_in}: {names}", markup=False,
                      soft_wrap=True)
    for place in placements(run.plans, PlaceStatus.DIFFERENT, PlaceStatus.FAILED):
        console.print(f"warning: {place.error}", markup=False, soft_wrap=True)


def needed_by(references: list[ModelReference]) -> str:
    """The test locations that need a model, for failure messages."""
    refs = [f"{r.location()} ({r.test})" for r in references[:MAX_NEEDED_BY]]
    more = len(references) - MAX_NEEDED_BY
    return ", ".join(refs) + (f", +{more} more" if more > 0 else "")


def fetch_json(run: FetchRun, settings: FetchSettings, diagnostics: list[Diagnostic],
               selection: dict[str, Any] | None = None,
               network: list[NetworkNeed] | None = None) -> dict[str, Any]:
    """The `--json` document of `models.fetch` (format documented in the README)."""
    return {
        "cache_dir": str(settings.cache),
        "endpoint": shown_url(settings.endpoint),
        "offline": settings.offline,
        "dry_run": settings.dry_run,
        "models": [_plan_entry(plan) for plan in run.plans],
        "diagnostics": [diagnostic_entry(d) for d in diagnostics],
        "listing_problems": run.problems,
        "ok": run.ok,
        "selection": selection,
        "network_needs": needs_entry(network or []),
    }


def _plan_entry(plan: ModelPlan) -> dict[str, Any]:
    return {
        **model_fields(plan.model), "commit": plan.commit,
        "status": str(plan.status), "error": plan.error, "note": plan.note,
        "files": [{"path": j.file.path, "size": j.file.size, "sha256": j.file.sha256,
                   "status": str(j.status), "error": j.error, "received": j.received,
                   "resumed": j.resumed} for j in plan.files],
        "placements": [{"path": p.relative, "file": p.job.file.path, "status": str(p.status),
                        "error": p.error} for p in plan.placements],
        "references": [reference_entry(r) for r in plan.references],
    }
