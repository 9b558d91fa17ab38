"""What a run needs from the user's setup besides options, found before the first Hub request:
the interpreter that collects and runs the suite, its pytest and the suite's requirements, the
llama-server binary its tests start, room in the cache. Every missing piece is found in one
run (`server_setup`): one `SetupError` names each, with the command that fixes it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple, TypeVar

from ..errors import OptionsError, SetupError
from . import answers, environment
from .environment import check_no_link_loop, resolved

#: How long `llama-server --version` may take: it prints and exits without loading anything.
VERSION_TIMEOUT_S = 10.0
#: llama.cpp's `utils.py` names the binary by this variable (`ServerProcess.start`).
SERVER_BIN_VAR = "LLAMA_SERVER_BIN_PATH"
_MISSING_MODULE = re.compile(r"No module named '([^']+)'")
#: Less room than this in the cache's file system is a missing piece: llama.cpp's server tests
#: need hundreds of MB (the fetch itself refuses a plan larger than the room left).
MIN_FREE_BYTES = 256 * 2**20
T = TypeVar("T")


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


class Probe(NamedTuple):
    """What `python` has of what the suite needs (found without importing any of it)."""

    pytest_version: str | None
    xdist: bool
    missing: list[str]  # the suite's requirements that are not installed there


_PROBE = """import importlib.metadata as m, importlib.util as u, json, sys
def has(name):
    try:
        m.distribution(name)
        return True
    except m.PackageNotFoundError:
        return False
print(json.dumps([m.version("pytest") if u.find_spec("pytest") else None,
                  u.find_spec("xdist") is not None, [n for n in sys.argv[1:] if not has(n)]]))
"""


def probe_suite(python: SuitePython, suite_dir: Path, cache: Path | None = None) -> Probe:
    """pytest's version, whether pytest-xdist is there and which of the suite's requirements
    (its requirements.txt) are not, as `python` sees them; a SetupError when it cannot run.
    With `cache`, the answer of an earlier run is taken while nothing it depends on changed
    (`answers.py`)."""
    names = requirement_names(suite_dir / "requirements.txt")
    return answers.kept_answer(
        cache, answers.interpreter_key(python.path, names), lambda: _ask_suite(python, names),
        load=lambda kept: Probe(str(kept[0]), bool(kept[1]), [str(name) for name in kept[2]]),
        dump=lambda probe: list(probe) if probe.pytest_version and not probe.missing else None)


def _ask_suite(python: SuitePython, names: list[str]) -> Probe:
    try:
        run = subprocess.run([str(python.path), "-c", _PROBE, *names], capture_output=True,
                             text=True, errors="replace", timeout=60, check=False,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"{python.source}: {python.path} cannot be run ({exc})") from None
    try:
        version, xdist, missing = json.loads(run.stdout)
    except ValueError:
        said = run.stderr.strip().splitlines()[-1:] or ["no answer"]
        raise SetupError(f"{python.path} ({python.source}) does not run Python: {said[0]}"
                         ) from None
    return Probe(version, bool(xdist), [str(name) for name in missing])


def missing_packages(python: SuitePython, probe: Probe, suite_dir: Path) -> str | None:
    """pytest and the requirements `python` lacks, with the pip command; None: nothing."""
    names = ([] if probe.pytest_version or "pytest" in probe.missing else ["pytest"])
    names += probe.missing
    if not names:
        return None
    return (f"{python.path} ({python.source}) has no {', '.join(names)}. "
            + _install(python, suite_dir, names[0]))


def requirement_names(path: Path) -> list[str]:
    """The distributions a requirements file names (options, URLs-only lines and conditional
    lines, `; marker`, are left out: they need pip to be read)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    names = []
    for line in lines:
        line = line.split(" #")[0].strip()
        match = _REQUIREMENT.match(line)
        if match and ";" not in line and not line.startswith("-"):
            names.append(match[1])
    return names


_REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)")


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
    if setting is False or (isinstance(setting, str) and setting.strip().lower() == "false"):
        return None  # `false` in YAML, or INVOKE_TEST_SERVER_BIN=false (a string)
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


def server_version(binary: Path, env: Mapping[str, str], root: Path,
                   cache: Path | None = None) -> str:
    """The first line of `llama-server --version` that names the build; a SetupError with the
    commands that build it when it is missing or does not run. With `cache`, an earlier run's
    answer while the binary and its folder are unchanged (`answers.py`)."""
    return answers.kept_answer(cache, answers.binary_key(binary),
                               lambda: _ask_version(binary, env, root), load=str, dump=str)


def _ask_version(binary: Path, env: Mapping[str, str], root: Path) -> str:
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


def server_setup(explicit_python: str | None, env: Mapping[str, str], root: Path,
                 suite_dir: Path, server_bin: str | bool | None, cache_override: Path | None,
                 *, hub: bool) -> ServerSetup:
    """Every check of the user's setup that needs no collection, before the first request:
    the interpreter, its pytest and the suite's requirements, the settings (the cache folder;
    the endpoint and token when the Hub is to be asked, `hub`), llama-server, room in the
    cache. One SetupError lists every piece that is missing, each with what fixes it."""
    problems: list[str] = []
    cache = environment.cache_dir(env, cache_override)
    python = _attempt(problems, lambda: suite_python(explicit_python, env, root))
    probe = None
    if python is not None:  # what it lacks follows once it runs
        found = python
        probe = _attempt(problems, lambda: probe_suite(found, suite_dir, cache))
        missing = missing_packages(python, probe, suite_dir) if probe else None
        problems += [missing] if missing else []
    _attempt(problems, lambda: environment.check_settings(env, cache_override, hub=hub))
    binary = server_binary(server_bin, env, root, suite_dir)
    version = (_attempt(problems, lambda: server_version(binary, env, root, cache))
               if binary else None)
    free = free_bytes(cache)
    if free is not None and free < MIN_FREE_BYTES:
        problems.append(f"only {free // 2**20} MiB free for the cache {cache}: free some "
                        "space, or set LLAMA_CACHE to a folder on a larger disk")
    if problems or python is None or probe is None:
        raise SetupError(listed(problems))
    return ServerSetup(
        python=python, pytest_version=probe.pytest_version or "", xdist=probe.xdist,
        server=binary, server_version=version, cache=cache, free_bytes=free,
        endpoint=environment.endpoint(env) if hub else None,
        token_set=environment.token(env) is not None)


def _attempt(problems: list[str], check: Callable[[], T]) -> T | None:
    try:
        return check()
    except (SetupError, OptionsError) as exc:
        problems.append(str(exc))
        return None


def listed(problems: list[str]) -> str:
    """One problem as it is; several as a list, so that one run says all."""
    if len(problems) == 1:
        return problems[0]
    items = "".join(f"\n  - {problem.replace(chr(10), chr(10) + '    ')}"
                    for problem in problems)
    return f"{len(problems)} things this run needs are missing (each with its fix):{items}"
