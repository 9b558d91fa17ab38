"""Which tests a pytest run will execute, asked of pytest itself: one collection-only run.

The run uses the suite's interpreter, the suite folder as working directory, the environment
the test run gets and the same arguments, plus `--collect-only` and our plugin
(`standalone/fetch_test_models_selection.py`, which needs pytest alone). With
pytest-xdist in the arguments, `--collect-only` makes xdist stand aside, so the suite is
collected once, here, and not once per worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..limits import COLLECT_TIMEOUT_S
from ..setup.environment import HF_OFFLINE
from .standalone import fetch_test_models_selection as plugin

#: The plugin's folder, put on the suite interpreter's path, and its module name there.
PLUGIN_DIR = str(Path(plugin.__file__).parent)
PLUGIN = plugin.__name__.rpartition(".")[2]

#: pytest's "no tests collected": an empty selection, not a failure.
NO_TESTS_COLLECTED = 5
#: How many of pytest's last output lines a failure shows.
ERROR_LINES = 15


class SelectedTest(BaseModel):
    """One test item pytest will run (or skip by its marks), located as the scan locates it."""

    model_config = ConfigDict(frozen=True)

    nodeid: str
    file: str  # relative to the project root, `/`-separated, as in ModelReference.file
    qualname: str  # `Class.function`, no parametrize id
    line: int | None
    params: dict[str, str | None]  # the configured repo/file names this item is parametrized by
    skip: str | None  # why its skip/skipif marks skip it, or None when it runs


class TestNaming(BaseModel):
    """The suite's `python_files` / `python_classes` / `python_functions` ini options."""

    model_config = ConfigDict(frozen=True)
    __test__ = False  # not a pytest test class, whatever its name

    python_files: tuple[str, ...] = ("test_*.py", "*_test.py")
    python_classes: tuple[str, ...] = ("Test",)
    python_functions: tuple[str, ...] = ("test",)


class Selection(BaseModel):
    """The outcome of the selection step; `error` set means collection failed."""

    model_config = ConfigDict(frozen=True)

    arguments: tuple[str, ...]
    tests: tuple[SelectedTest, ...] = ()
    naming: TestNaming = TestNaming()
    seconds: float = 0.0
    #: what the interpreter that collected has (None when collection failed)
    pytest_version: str | None = None
    xdist: bool = False
    #: collection failed: pytest's last lines, and all it printed (for `preflight`)
    error: str | None = None
    output: str = ""

    def running(self) -> list[SelectedTest]:
        """Selected tests that their marks do not skip: the ones that need models."""
        return [test for test in self.tests if test.skip is None]


def collection_hung(seconds: float) -> str:
    """What stopping a collection that outlasted `seconds` says, wherever it is stopped."""
    return (f"pytest was stopped after collecting for {seconds:g} s: does a conftest.py or "
            "test module wait for something on import? (the limit is test.collect_timeout, or "
            "INVOKE_TEST_COLLECT_TIMEOUT)")


def collect_tests(folder: Path, root: Path, arguments: Sequence[str], env: Mapping[str, str],
                  param_names: Sequence[str], python: Path | None = None,
                  timeout: float = COLLECT_TIMEOUT_S) -> Selection:
    """Run pytest's collection once in `folder` with `arguments`, by `python` (default: this
    interpreter), stopped after `timeout` seconds; never raises for a failed collection (the
    Selection carries pytest's own error lines instead)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ftm-select-") as scratch:
        output = Path(scratch) / "selection.json"
        command = [str(python or sys.executable), "-m", "pytest", *arguments, "--collect-only",
                   "-q", "-p", PLUGIN]
        child_env = plugin_environment(env, output, param_names)
        try:
            run = subprocess.run(command, cwd=folder, env=child_env, capture_output=True,
                                 text=True, errors="replace", timeout=timeout,
                                 check=False, stdin=subprocess.DEVNULL)
        except OSError as exc:  # the interpreter vanished or cannot be run
            return Selection(arguments=tuple(arguments), seconds=time.monotonic() - started,
                             error=f"{command[0]} cannot be run: {exc.strerror or exc}")
        except subprocess.TimeoutExpired:
            return Selection(arguments=tuple(arguments), seconds=time.monotonic() - started,
                             error=collection_hung(timeout))
        seconds = time.monotonic() - started
        if run.returncode not in (0, NO_TESTS_COLLECTED) or not output.exists():
            printed = run.stdout + run.stderr
            return Selection(arguments=tuple(arguments), seconds=seconds, output=printed,
                             error=_failure(run.returncode, printed))
        document = json.loads(output.read_text(encoding="utf-8"))
    return selection_from(document, root, arguments, seconds)


def selection_from(document: Mapping[str, Any], root: Path, arguments: Sequence[str],
                   seconds: float) -> Selection:
    """The Selection the plugin's document describes (`selection_document`)."""
    naming = TestNaming(**{key: tuple(document[key]) for key in TestNaming.model_fields})
    tests = tuple(_selected(entry, root) for entry in document["items"])
    return Selection(arguments=tuple(arguments), tests=tests, naming=naming, seconds=seconds,
                     pytest_version=document["pytest_version"], xdist=document["xdist"])


def plugin_environment(env: Mapping[str, str], output: Path | None,
                       param_names: Sequence[str]) -> dict[str, str]:
    """`env` with what the plugin reads: where to write (None: set by who starts the run), which
    names to report, its folder."""
    child = dict(env)
    if output is not None:
        child[plugin.OUTPUT_VAR] = str(output)
    child[plugin.NAMES_VAR] = json.dumps(list(param_names))
    # The plugin must import in the suite's interpreter, where this package is usually not
    # installed: its folder alone (no other module) is appended, so the suite's modules win.
    paths = [p for p in child.get("PYTHONPATH", "").split(os.pathsep) if p]
    child["PYTHONPATH"] = os.pathsep.join([*paths, PLUGIN_DIR] if PLUGIN_DIR not in paths
                                          else paths)
    return child


def _failure(code: int, output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:  # a conftest.py calling sys.exit(), say
        return f"pytest exited with code {code} while collecting and printed nothing"
    shown = "\n".join(f"    {line}" for line in lines[-ERROR_LINES:])
    return f"pytest exited with code {code} while collecting:\n{shown}"


def _selected(entry: Mapping[str, object], root: Path) -> SelectedTest:
    path = Path(str(entry["path"])).resolve()
    try:
        file = path.relative_to(root).as_posix()
    except ValueError:  # outside the project: it can match no reference, which is right
        file = path.as_posix()
    return SelectedTest(file=file, **{k: v for k, v in entry.items() if k != "path"})


def run_environment(env: Mapping[str, str], cache: Path, *, offline: bool,
                    slow: bool) -> dict[str, str]:
    """The environment of the test run, which its collection must share: skipif conditions
    read it (`SLOW_TESTS` in llama.cpp's `is_slow_test_allowed()`)."""
    child = dict(env)
    child.update(LLAMA_CACHE=str(cache), HF_HUB_CACHE=str(cache))
    if offline:
        child.update(LLAMA_ARG_OFFLINE="1", **HF_OFFLINE)
    if slow:
        child["SLOW_TESTS"] = "1"
    return child
