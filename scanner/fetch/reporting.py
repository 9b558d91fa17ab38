"""What the downloads report to: the display implements it (thread-safe), the transfers and
the download workers call it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class FileProgress(Protocol):
    """What a transfer reports to (the display implements it; thread-safe)."""

    def file_started(self, label: str, size: int,
                     present: int) -> tuple[Callable[[int], None], float]: ...

    def file_done(self, label: str, size: int, started: float, error: str | None) -> None: ...

    def file_cancelled(self, label: str) -> None: ...

    def file_waiting(self, label: str, holder: str) -> None: ...


class ProgressSink(FileProgress, Protocol):
    """What the downloads report to (the display implements it; thread-safe)."""

    def partials_removed(self, count: int, total_bytes: int) -> None: ...

    def outdated_partials_removed(self, count: int, total_bytes: int) -> None: ...
