"""One progress display per run: per-file and total bars on a terminal, one line per file
otherwise, nothing at all for `--json`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from .console import human_size


class FetchProgress:
    """Thread-safe: download workers call `file_started`, the returned callback, `file_done`."""

    def __init__(self, console: Console, total_bytes: int, mode: str) -> None:
        self.console, self.mode = console, mode
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        if mode == "bars":
            self._progress = Progress(
                TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
                TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True,
            )
            self._total = self._progress.add_task("total", total=total_bytes)

    def __enter__(self) -> FetchProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def file_started(self, label: str, size: int,
                     present: int) -> tuple[Callable[[int], None], float]:
        """`present`: bytes an earlier run left in the partial file (not counted as received)."""
        if present:
            self.note(f"resuming   {label}: {human_size(present)} of {human_size(size)} from "
                      "an earlier run")
        if self._progress is None:
            return (lambda _n: None), time.monotonic()
        progress = self._progress
        with self._lock:
            task = progress.add_task(label, total=size, completed=present)
            self._tasks[label] = task

        def advance(n: int, task: TaskID = task) -> None:
            with self._lock:
                if n >= 0:
                    progress.advance(task, n)
                    progress.advance(self._total, n)
                else:
                    self._take_back(task, -n)

        return advance, time.monotonic()

    def _take_back(self, task: TaskID, n: int) -> None:
        """A file restarts: remove its bytes from both bars (`advance(-n)` would make rich show
        a negative speed; a reset only forgets the speed samples)."""
        assert self._progress is not None
        done = {bar.id: bar.completed for bar in self._progress.tasks}
        for bar in (task, self._total):
            self._progress.reset(bar, completed=max(int(done[bar]) - n, 0))

    def partials_removed(self, count: int, total_bytes: int) -> None:
        self.note(f"removed {count} partial download(s) huggingface_hub left "
                  f"({human_size(total_bytes)}): it never resumes them")

    def outdated_partials_removed(self, count: int, total_bytes: int) -> None:
        self.note(f"removed {count} partial download(s) of file content the repo no longer "
                  f"lists ({human_size(total_bytes)}): the Hub changed the file since")

    def note(self, text: str) -> None:
        """A line about the run itself (not a file); nothing for `--json`."""
        if self.mode != "quiet":
            self.console.print(text, markup=False, highlight=False)

    def file_waiting(self, label: str, holder: str) -> None:
        """Another process holds the file's lock (it is downloading it): this run waits.
        `holder`: the lock file, relative to the cache."""
        self.note(f"waiting    {label}: another process is downloading it ({holder})")

    def file_cancelled(self, label: str) -> None:
        """Ctrl-C stopped this file: drop its bar, say nothing (the run reports the stop)."""
        self._drop_bar(label)

    def _drop_bar(self, label: str) -> None:
        if self._progress is not None:
            with self._lock:
                task = self._tasks.pop(label, None)
                if task is not None:
                    self._progress.remove_task(task)

    def file_done(self, label: str, size: int, started: float, error: str | None) -> None:
        elapsed = time.monotonic() - started
        if self._progress is not None:
            self._drop_bar(label)
            if error:
                # the error names the repo and file itself
                self._progress.console.print(f"failed  {error}", markup=False)
            return
        if self.mode == "lines":
            if error:
                line = f"failed      {error}"
            else:
                line = f"downloaded  {label} ({human_size(size)} in {elapsed:.1f} s)"
            self.console.print(line, markup=False, highlight=False)
