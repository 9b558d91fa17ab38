"""Which files make the suite of a project, found as pytest finds them, when no `tests` glob
is configured: llama.cpp's server tests where `tools/server/tests` exists; else the
`testpaths` of the project's pytest configuration, else the test files under the root.

pytest reads its configuration from the first of `pytest.ini`, `.pytest.ini`,
`pyproject.toml` (`[tool.pytest.ini_options]`, or `[tool.pytest]` in pytest 9), `tox.ini`
(`[pytest]`) and `setup.cfg` (`[tool:pytest]`) that has its section
(`_pytest/config/findpaths.py`, `locate_config`), and never walks into the folders its
`norecursedirs` names (`_pytest/main.py`, `pytest_ignore_collect`, and `_in_venv`: any folder
holding a `pyvenv.cfg`).
"""

from __future__ import annotations

import configparser
import sys
from fnmatch import fnmatchcase
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself depends on tomli before 3.11
    import tomli as tomllib  # type: ignore[import-not-found]

from .config import DEFAULT_FILE_NAMES, DEFAULT_REPO_NAMES, DEFAULT_TESTS, ScanConfig

LLAMA_SUITE = "tools/server/tests"
#: what pytest collects with no `testpaths`: its test files, their conftests, and the helper
#: modules of test folders, which the tests import
WITHOUT_TESTPATHS = ("**/test_*.py", "**/*_test.py", "**/conftest.py", "**/tests/**/*.py",
                     "**/test/**/*.py")
#: pytest's default `norecursedirs`
NORECURSEDIRS = ("*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv",
                 "{arch}")


def for_project(root: Path, config: ScanConfig) -> ScanConfig:
    """The configuration a scan under `root` uses: as given for llama.cpp (its server tests
    exist, or the test globs are configured); else the suite as pytest finds it, and without
    llama.cpp's argument names (`hf_repo`, `model_hf_repo`, ...) unless they are configured:
    in another project they name other things (a task's dataset in lighteval) that llama.cpp's
    GGUF rules would fail to fetch."""
    if config.tests != DEFAULT_TESTS or (root / LLAMA_SUITE).is_dir():
        return config
    tests, skipped = suite_globs(root)
    update: dict[str, object] = {"tests": tests, "skipped_dirs": skipped}
    if (config.repo_names, config.file_names) == (DEFAULT_REPO_NAMES, DEFAULT_FILE_NAMES):
        update |= {"repo_names": (), "file_names": ()}
    return config.model_copy(update=update)


def suite_globs(root: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the test file globs, the folder names never walked into) of a project under `root`
    that is not llama.cpp's."""
    ini = pytest_ini(root)
    testpaths = _words(ini.get("testpaths"))
    skipped = tuple(_words(ini.get("norecursedirs"))) or NORECURSEDIRS
    if not testpaths:
        return WITHOUT_TESTPATHS, skipped
    return tuple(f"{p.strip('/')}/**/*.py" if p.strip("/") not in ("", ".") else "**/*.py"
                 for p in testpaths), skipped


def pytest_ini(root: Path) -> dict[str, object]:
    """The pytest section of the configuration file at `root` pytest would read, or nothing."""
    return pytest_config(root) or {}


def pytest_config(root: Path) -> dict[str, object] | None:
    """The pytest section of the first file at `root` that configures pytest, as
    `_pytest/config/findpaths.py` (`locate_config`) picks it: `pytest.ini` or `.pytest.ini`
    whatever it holds, `pyproject.toml` with a `[tool.pytest.ini_options]` (or pytest 9's
    `[tool.pytest]`) table, `tox.ini` with `[pytest]`, `setup.cfg` with `[tool:pytest]`; an
    empty section counts. None: no file here configures pytest."""
    for name in ("pytest.ini", ".pytest.ini"):
        if (root / name).is_file():
            return _ini_section(root / name, "pytest") or {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            tool = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            tool = {}
        pytest = tool.get("pytest") if isinstance(tool, dict) else None
        section = pytest.get("ini_options", pytest) if isinstance(pytest, dict) else None
        if isinstance(section, dict):
            return section
    for name, section_name in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        if (root / name).is_file():
            found = _ini_section(root / name, section_name)
            if found is not None:
                return found
    return None


def _ini_section(path: Path, section: str) -> dict[str, object] | None:
    """`section` of an ini file; None when it has none (or cannot be read)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        return None
    return dict(parser[section]) if parser.has_section(section) else None


def _words(value: object) -> list[str]:
    """An ini value is whitespace-separated, a TOML one a list (or one string)."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def pruned(name: str, folder: str, skipped: tuple[str, ...]) -> bool:
    """A folder pytest never collects from: one `norecursedirs` names, or a virtualenv."""
    return any(fnmatchcase(name, pattern) for pattern in skipped) or \
        Path(folder, name, "pyvenv.cfg").is_file()
