"""What a run needs from the user's setup besides options, found before the first Hub request:
the interpreter that collects and runs the suite, and the llama-server binary its tests start.
A missing piece is a `SetupError` whose message names it and the command that fixes it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from .environment import check_no_link_loop, resolved
from .errors import SetupError

#: How long `llama-server --version` may take: it prints and exits without loading anything.
VERSION_TIMEOUT_S = 10.0
#: llama.cpp's `utils.py` names the binary by this variable (`ServerProcess.start`).
SERVER_BIN_VAR = "LLAMA_SERVER_BIN_PATH"
_MISSING_MODULE = re.compile(r"No module named '([^']+)'")


class SuitePython(NamedTuple):
    """The interpreter that collects and runs the suite, and which setting chose it."""

    path: Path
    source: str


def suite_python(explicit: str | None, env: Mapping[str, str], root: Path) -> SuitePython:
    """`--python` (`test.python`), else the active virtualenv when it is not this tool's own,
    else `.venv/bin/python` under the root, else the interpreter running the tool."""
    if explicit:
        return _checked(SuitePython(root / Path(explicit).expanduser(), "--python (test.python)"))
    venv = env.get("VIRTUAL_ENV")
    if venv and resolved(Path(venv), "VIRTUAL_ENV") != Path(sys.prefix).resolve():
        return _checked(SuitePython(Path(venv) / "bin" / "python", "VIRTUAL_ENV"))
    local = root / ".venv" / "bin" / "python"
    if local.exists():
        return _checked(SuitePython(local, ".venv under the root"))
    return SuitePython(Path(sys.executable), "this tool's interpreter")


class ServerSetup(NamedTuple):
    """What `test.server` found before its first request, shown on its first screen."""

    python: SuitePython
    pytest_version: str
    xdist: bool  # pytest-xdist importable by that interpreter
    server: Path | None  # the llama-server the tests start; None: not checked
    server_version: str | None
    cache: Path
    free_bytes: int | None
    endpoint: str | None  # None: the Hub is not asked (offline, or no fetch)
    token_set: bool


def _checked(python: SuitePython) -> SuitePython:
    if not (python.path.is_file() and os.access(python.path, os.X_OK)):
        raise SetupError(f"{python.source}: {python.path} is not an executable Python "
                         "interpreter")
    return python


def collection_error(python: SuitePython, error: str, output: str, suite_dir: Path) -> str:
    """Why `python` could not collect the suite, and for a module it could not import (the
    suite's requirements, not installed there), the command that installs them."""
    missing = _MISSING_MODULE.findall(output)
    if not missing:
        return f"{python.path} ({python.source}) could not collect the suite: {error}"
    return (f"{python.path} ({python.source}) cannot collect the suite: No module named "
            f"{missing[-1]!r}. {_install(python, suite_dir, missing[-1].split('.')[0])}")


def _install(python: SuitePython, suite_dir: Path, module: str) -> str:
    """The pip command that installs the suite's requirements (else `module`) for `python`."""
    requirements = suite_dir / "requirements.txt"
    install, what = ((f"-r {shlex.quote(str(requirements))}", "the suite's requirements")
                     if requirements.is_file() else (shlex.quote(module), "it"))
    return f"Install {what}:\n    {shlex.quote(str(python.path))} -m pip install {install}"


def probe_pytest(python: SuitePython, suite_dir: Path) -> tuple[str, bool]:
    """pytest's version and whether pytest-xdist is there, as `python` sees them (without
    importing either); a SetupError when pytest is missing."""
    probe = ("import importlib.util as u, importlib.metadata as m; "
             "print(m.version('pytest') if u.find_spec('pytest') else '-', "
             "u.find_spec('xdist') is not None)")
    try:
        run = subprocess.run([str(python.path), "-c", probe], capture_output=True, text=True,
                             errors="replace", timeout=60, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"{python.source}: {python.path} cannot be run ({exc})") from None
    words = run.stdout.split()
    if run.returncode != 0 or len(words) != 2:
        said = run.stderr.strip().splitlines()[-1:] or ["no answer"]
        raise SetupError(f"{python.path} ({python.source}) does not run Python: {said[0]}")
    if words[0] == "-":
        raise SetupError(f"{python.path} ({python.source}) has no pytest. "
                         + _install(python, suite_dir, "pytest"))
    return words[0], words[1] == "True"


def free_bytes(folder: Path) -> int | None:
    """Free space where `folder` is or will be (its nearest existing parent)."""
    for path in (folder, *folder.parents):
        if path.exists():
            return shutil.disk_usage(path).free
    return None


def server_binary(setting: str | bool | None, env: Mapping[str, str], root: Path,
                  suite_dir: Path) -> Path | None:
    """The llama-server the suite will start, looked up as llama.cpp's `utils.py` does
    (LLAMA_SERVER_BIN_PATH, relative to the suite folder it runs in; else build/bin under the
    root); None when there is nothing to check: `test.server_bin` is false, or it is unset and
    the suite does not start one (its utils.py never reads LLAMA_SERVER_BIN_PATH)."""
    if setting is False:
        return None
    if isinstance(setting, str) and setting:
        return check_no_link_loop(root / Path(setting).expanduser(), "test.server_bin")
    if not _starts_llama_server(suite_dir):
        return None
    if env.get(SERVER_BIN_VAR):
        return check_no_link_loop(suite_dir / Path(env[SERVER_BIN_VAR]).expanduser(),
                                  SERVER_BIN_VAR)
    return root / "build" / "bin" / "llama-server"


def _starts_llama_server(suite_dir: Path) -> bool:
    try:
        return SERVER_BIN_VAR in (suite_dir / "utils.py").read_text(errors="replace")
    except OSError:
        return False


def server_version(binary: Path, env: Mapping[str, str], root: Path) -> str:
    """The first line of `llama-server --version` that names the build; a SetupError with the
    commands that build it when it is missing or does not run."""
    named = f"{SERVER_BIN_VAR}={env[SERVER_BIN_VAR]}" if env.get(SERVER_BIN_VAR) else \
        f"{SERVER_BIN_VAR} is not set"
    if not binary.is_file():
        raise SetupError(f"llama-server not found at {binary} ({named}); the tests start it. "
                         f"Build it in {root}:\n{_BUILD}")
    try:
        run = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             errors="replace", timeout=VERSION_TIMEOUT_S, check=False,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SetupError(f"{binary} --version did not answer within {VERSION_TIMEOUT_S:.0f} s; "
                         f"rebuild it in {root}:\n{_BUILD}") from None
    except OSError as exc:
        raise SetupError(f"{binary} cannot be run ({exc.strerror or exc}); rebuild it in "
                         f"{root}:\n{_BUILD}") from None
    lines = [line.strip() for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    if run.returncode != 0:
        said = f": {lines[-1]}" if lines else ""
        raise SetupError(f"{binary} --version exited with code {run.returncode}{said}; rebuild "
                         f"it in {root}:\n{_BUILD}")
    return next((line for line in lines if line.startswith("version")), lines[0] if lines else "")


#: What builds llama-server in a llama.cpp checkout (the README's quick start says the same).
BUILD_COMMANDS = ("cmake -B build -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF",
                  "cmake --build build --target llama-server -j")
_BUILD = "".join(f"    {command}\n" for command in BUILD_COMMANDS) + (
    f"  or point {SERVER_BIN_VAR} at a built one (test.server_bin: false skips this check)")
