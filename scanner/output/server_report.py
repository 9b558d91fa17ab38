"""`test.server`'s first screen: what runs the tests, with what, and where the models go; and
what it says once they ended."""

from __future__ import annotations

from pathlib import Path

from ..setup.environment import shown_url
from ..setup.preflight import ServerSetup
from . import log
from .console import human_size, make_console
from .outcomes import ServerTestsRun


def print_setup(setup: ServerSetup, pytest_line: str, folder: Path) -> None:
    """One line per piece of the setup (never the token itself), then the pytest line."""
    free = f", {human_size(setup.free_bytes)} free" if setup.free_bytes is not None else ""
    rows = [
        ("python", f"{setup.python.path} ({setup.python.source}), pytest "
                   f"{setup.pytest_version}" + ("" if setup.xdist else ", no pytest-xdist")),
        ("llama-server", "not checked" if setup.server is None
         else f"{setup.server} ({setup.server_version or 'no version printed'})"),
        ("cache", f"{setup.cache}{free}"),
        ("hub", "not asked (offline)" if setup.endpoint is None
         else f"{shown_url(setup.endpoint)}, token {'set' if setup.token_set else 'not set'}"),
    ]
    console = make_console()
    for name, value in rows:
        console.print(f"{name:<13}{value}", markup=False)
    console.print(f"test.server: {pytest_line} in {folder}", markup=False)


def show_tests_ended(outcome: ServerTestsRun) -> None:
    if outcome.interrupted:
        log.error("interrupted: the tests stopped (pytest's summary above)")
