"""The project root when `--root` (`models.root`) is not set, found by walking up from the
current folder as git and pytest find theirs: so that the tool runs from `tools/server/tests`,
where tests.sh lives, as from the checkout's top."""

from __future__ import annotations

import configparser
from pathlib import Path

#: pytest's own configuration files, as `_pytest/config/findpaths.py` (`locate_config`) reads
#: them: the file, and the section that makes it pytest's (None: the file alone does).
PYTEST_CONFIGS = (("pytest.ini", None), (".pytest.ini", None),
                  ("pyproject.toml", "tool.pytest"), ("tox.ini", "pytest"),
                  ("setup.cfg", "tool:pytest"))


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
        if any(_configures_pytest(folder / name, section) for name, section in PYTEST_CONFIGS):
            return folder
    return next((folder for folder in folders if (folder / "conftest.py").is_file()), start)


def _configures_pytest(path: Path, section: str | None) -> bool:
    if not path.is_file():
        return False
    if section is None:
        return True
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if path.suffix == ".toml":  # a table header: `[tool.pytest.ini_options]`, or pytest 9's
        # `[tool.pytest]` (`scan/discover.py` reads either)
        headers = (f"[{section}]", f"[{section}.ini_options]")
        return any(line.strip() in headers for line in text.splitlines())
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return False
    return parser.has_section(section)
