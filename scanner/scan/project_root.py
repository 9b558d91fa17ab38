"""The project root when `--root` (`models.root`) is not set, found by walking up from the
current folder as git and pytest find theirs: so that the tool runs from `tools/server/tests`,
where tests.sh lives, as from the checkout's top."""

from __future__ import annotations

from pathlib import Path

from .discover import pytest_config


def find_root(suite: str, start: Path) -> Path:
    """The nearest folder at or above `start` that holds the suite folder (`tools/server/tests`
    of a llama.cpp checkout); for a suite that is the root itself (`.`) or found nowhere, the
    nearest with a pytest configuration (pytest's rootdir), else one with a `conftest.py`;
    else `start`."""
    start = start.resolve()
    folders = (start, *start.parents)
    if Path(suite).parts:
        for folder in folders:
            if (folder / suite).is_dir():
                return folder
    for folder in folders:
        if pytest_config(folder) is not None:
            return folder
    return next((folder for folder in folders if (folder / "conftest.py").is_file()), start)

