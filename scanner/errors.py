"""Exit codes of every task, and the one error a bad option or configuration value raises."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a model failed or is missing, or --strict and diagnostics
    USAGE = 2  # bad option, configuration or setup, nothing matched, no llama.cpp binary
    NO_TESTS = 5  # the pytest arguments select no test (pytest's own code for it)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class OptionsError(ValueError):
    """A bad option or configuration value; the message names the key."""


class SetupError(Exception):
    """Something the run needs is missing from the user's setup (the suite's requirements, a
    built llama-server, a usable interpreter); the message names it and the command that fixes
    it. Exit 2, found before the first request."""


class NoTestFiles(Exception):
    """No test file matched the suite's globs: the run cannot have done its job (exit 2)."""


class NoTestsSelected(Exception):
    """The pytest arguments select no test of the suite; the message says with which
    arguments, and where. Exit 5, as pytest's, with no success line."""


def nothing_selected(pytest_line: str, folder: object) -> str:
    return (f"no test selected: `{pytest_line}` collects no test in {folder} (are the paths "
            "relative to that folder, and does -k or -m match?)")
