"""pytest plugin for the selection step: `pytest -p fetch_test_models_selection`.

It is loaded explicitly by `scanner.selection` (`collect.py`, `live.py`), in the suite's own
interpreter (where this package need not be installed: its folder is put on that interpreter's
path), and writes, after pytest's own collection and deselection (`-k`, `-m`, paths, node ids,
plugins, ini options), which items the run will execute, and what that interpreter has. It
imports nothing but the standard library, so the tool can read the names below without
importing pytest. The file it writes is named by `OUTPUT_VAR`; without it, the plugin does
nothing.

In a real run (not `--collect-only`), `READY_FD_VAR` and `GO_FD_VAR` name two pipes to the
tool: once collected, the run says so (a JSON line) and waits for "go" or "stop CODE" while
the tool fetches the models, so the suite is collected once and no test starts before its
models are in place. Under pytest-xdist the workers write the file and the controller waits,
before it hands out the first test (`fetch_test_models_xdist.py`, which the pytest plugin's
xdist run shares).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import TYPE_CHECKING, Any

import pluggy  # pytest's own hook library: light, unlike pytest

if TYPE_CHECKING or __package__:  # imported from the tool's package
    from . import fetch_test_models_xdist as handoff
else:  # in the suite's interpreter, by its own name: this folder is on the path
    import fetch_test_models_xdist as handoff

if TYPE_CHECKING:
    import pytest

hookimpl = pluggy.HookimplMarker("pytest")

#: Where the plugin writes what it found, and which parameter names it reports.
OUTPUT_VAR = "FETCH_TEST_MODELS_SELECTION"
NAMES_VAR = "FETCH_TEST_MODELS_PARAM_NAMES"
#: The pipes of a run that waits for the tool after its collection (file descriptors).
READY_FD_VAR = "FETCH_TEST_MODELS_READY_FD"
GO_FD_VAR = "FETCH_TEST_MODELS_GO_FD"


def _skip_reason(item: pytest.Item) -> str | None:
    """pytest's own verdict on the item's skip/skipif marks, evaluated in this environment
    (llama.cpp marks slow tests `skipif(not is_slow_test_allowed())`)."""
    try:
        from _pytest.skipping import evaluate_skip_marks
    except ImportError:  # a pytest without it: treat the item as running, which over-fetches
        return None
    try:
        skipped = evaluate_skip_marks(item)
    except Exception:  # a condition that fails here fails the run too; the item still counts
        return None
    return None if skipped is None else (skipped.reason or "skipped")


def _qualname(item: pytest.Item) -> str:
    """`Class.Inner.function` as the static scan names the test (no parametrize id)."""
    name = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
    cls = getattr(item, "cls", None)
    return f"{cls.__qualname__}.{name}" if cls is not None else name


def _params(item: pytest.Item, names: list[str]) -> dict[str, str | None]:
    """The item's values for the configured repo/file names; other types are not model ids."""
    callspec = getattr(item, "callspec", None)
    params: dict[str, Any] = callspec.params if callspec is not None else {}
    return {name: params[name] for name in names
            if name in params and (params[name] is None or isinstance(params[name], str))}


def _pytest_version() -> str:
    import pytest

    return str(pytest.__version__)


def _entry(item: pytest.Item, names: list[str]) -> dict[str, Any]:
    line = item.location[1]
    return {
        "nodeid": item.nodeid,
        "path": str(item.path),
        "qualname": _qualname(item),
        "line": None if line is None else line + 1,
        "params": _params(item, names),
        "skip": _skip_reason(item),
    }


def pytest_configure(config: pytest.Config) -> None:
    target = os.environ.get(OUTPUT_VAR)
    if target and GO_FD_VAR in os.environ:  # a run that waits: its tests take what the tool
        # added once it said go (an xdist worker too: it gets no test before)
        config.pluginmanager.register(handoff.TakeEnv(target), "fetch-test-models-env")
    if _waits(config) and config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistController(config), "fetch-test-models-controller")


@hookimpl(tryfirst=True)  # an xdist worker reports its collection in this hook: write before
def pytest_collection_finish(session: pytest.Session) -> None:
    target = os.environ.get(OUTPUT_VAR)
    if not target:
        return
    if session.testsfailed:  # collection errors: the run stops before any test
        if _waits(session.config):
            _tell({"failed": _collection_errors(session.config)})
        return
    if _waits(session.config) and not os.path.isdir(os.path.dirname(target)):
        _tool_ended()  # its scratch folder went with it
    names = json.loads(os.environ.get(NAMES_VAR) or "[]")
    handoff.write_document(target, selection_document(session, names))
    if _waits(session.config) and session.items:  # none: pytest ends, exit 5, on its own
        _wait_for_the_tool()


class _XdistController:
    """The controller does not collect: it waits once the first worker has (the workers all
    collect the same items), before xdist schedules any test."""

    def __init__(self, config: pytest.Config) -> None:
        self.asked = False
        self.config = config

    def pytest_xdist_node_collection_finished(self, node: Any, ids: Any) -> None:
        if self.asked:
            return
        self.asked = True
        if os.path.exists(os.environ[OUTPUT_VAR]):
            self._end_status_line()
            _wait_for_the_tool()
        else:  # the worker's collection failed: xdist reports its errors
            import pytest

            _tell({"failed": ""})
            pytest.exit("pytest could not collect every test", returncode=2)


    def _end_status_line(self) -> None:
        """On a terminal, xdist keeps rewriting one status line ("ready: 1/4 workers") with no
        newline: end it, so that the tool's display, while the run waits, has lines of its
        own (`DSession.rewrite` in xdist/dsession.py)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        tty = reporter.isatty  # a bool up to pytest 8.3 (which llama.cpp pins), then a method
        if tty() if callable(tty) else tty:
            reporter.write("\n", flush=True)


def _waits(config: pytest.Config) -> bool:
    """A run the tool waits on: not an xdist worker, not a collection-only run."""
    return (GO_FD_VAR in os.environ and not hasattr(config, "workerinput")
            and not config.option.collectonly)


def _tell(message: dict[str, Any]) -> None:
    os.write(int(os.environ[READY_FD_VAR]), (json.dumps(message) + "\n").encode())


#: pytest's exit code when no test was selected (`ExitCode.NO_TESTS_COLLECTED`).
NO_TESTS = 5


def _tool_ended() -> None:
    """The tool that waits on this run has gone (killed): the run ends too, no test run."""
    import pytest

    pytest.exit("fetch-test-models has ended: no test ran", returncode=1)


def _wait_for_the_tool() -> None:
    """Say the collection is done, then wait for "go" or "stop CODE"; the tool gone: stop."""
    import pytest

    try:
        _tell({"ready": True})
    except BrokenPipeError:
        _tool_ended()
    with os.fdopen(int(os.environ[GO_FD_VAR]), encoding="utf-8", closefd=False) as answers:
        answer = answers.readline().split()
    if answer[:1] != ["go"]:
        code = int(answer[1]) if len(answer) > 1 and answer[1].isdigit() else 1
        why = "no test selected" if code == NO_TESTS else "the fetch failed, so no test ran"
        pytest.exit(f"fetch-test-models: {why}", returncode=code)


def _collection_errors(config: pytest.Config) -> str:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    reports = reporter.stats.get("error", []) if reporter is not None else []
    return "\n".join(str(getattr(report, "longreprtext", "")) for report in reports)


def selection_document(session: pytest.Session, names: list[str]) -> dict[str, Any]:
    """The items the run will execute (after pytest's deselection), with the values of the
    parameters in `names`, and what this interpreter has."""
    config = session.config
    return {
        "items": [_entry(item, names) for item in session.items],
        "python_files": config.getini("python_files"),
        "python_classes": config.getini("python_classes"),
        "python_functions": config.getini("python_functions"),
        "python": sys.executable,
        "pytest_version": _pytest_version(),
        "xdist": importlib.util.find_spec("xdist") is not None,
    }
