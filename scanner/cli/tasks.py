"""The Invoke collection: `models.list`, `models.fetch`, `models.lock`, `models.prune`,
`test.server`.

Thin by design: each task merges its flags with its config section and calls `scanner`. The
options, their defaults and help texts are declared once, in `scanner/cli/declarations.py`. The
`fetch-test-models` command (`program.py`) runs this collection; so does `invoke -r CLONE`,
through the clone's top-level `tasks.py`.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import Task, task

from ..errors import ExitCode, OptionsError
from .config_files import blame, load_config, runtime_file
from .declarations import ModelsOptions, TestOptions, config_defaults
from .flags import TaskFlag, by_section, signature, task_flags
from .options import Options, build_options, build_server_run, check_section

Values = dict[str, dict[str, Any]]
#: What refuses a section's values (`blame` says which file or variable set a bad one).
SECTION_CHECKS: dict[str, Callable[[Mapping[str, Any]], object]] = {
    "models": build_options, "test": check_section}


def _options(c: Context, values: Values, check_test: bool = True,
             selection: list[str] | None = None) -> Options:
    """Flags over the `models:` section; a bad value is a usage error, never a traceback.
    The `test:` section is checked too (`test.server` checks it with its own flags)."""
    test = values["test"]
    try:
        if check_test:
            check_section(c.config.test)
        return build_options(c.config.models, suite=test.get("suite") or c.config.test.suite,
                             python=test.get("python") or c.config.test.python,
                             collect_timeout=c.config.test.collect_timeout,
                             selection=selection, **values["models"])
    except OptionsError as exc:
        raise _refused(c, exc) from exc


def _refused(c: Context, exc: OptionsError) -> Exit:
    """A bad value, and the file or variable it comes from when it is not a flag."""
    where = blame(c.config, SECTION_CHECKS)
    return Exit(f"error: invalid option: {exc}{where}", code=ExitCode.USAGE)


def pytest_args(c: Context) -> list[str] | None:
    """The arguments for pytest, or None when none were given (the whole suite).
    `fetch-test-models` routes them (`routing.py`: every word after the task that is not the
    tool's); under `invoke -r CLONE` they follow `--`, taken as the shell split them (Invoke's
    remainder re-joins them with spaces, which would break `-k "a or b"`)."""
    routed = c.config.get("pytest_args")
    if routed is not None:
        return list(routed)
    if "--" in sys.argv:
        return sys.argv[sys.argv.index("--") + 1:]
    return shlex.split(c.remainder) if c.remainder else None


def _task(name: str, run: Callable[[Context, Values], int]) -> Task[Any]:
    """A task whose flags are the ones `options.TASK_FLAGS` gives it; `run`'s docstring is its
    help, and its exit code the task's."""
    flags: list[TaskFlag] = task_flags(name)

    def body(c: Context, **given: Any) -> None:
        code = run(c, by_section(flags, given))
        if code:
            raise Exit(code=code)

    body.__signature__ = signature(flags)  # type: ignore[attr-defined]
    body.__name__ = body.__qualname__ = name
    body.__doc__ = run.__doc__
    # long flags only: a short one would shadow pytest's (`-k`, `-x`, `-n`; see routing.py)
    made: Task[Any] = task(name=name, help={flag.param: flag.help for flag in flags},
                           auto_shortflags=False,
                           iterable=[flag.param for flag in flags if flag.repeatable])(body)
    return made


def list_models(c: Context, values: Values) -> int:
    """List the Hugging Face models the test suite references; with PYTEST ARGS, only
    those the tests pytest selects with them need."""
    from . import commands

    return commands.list_models(_options(c, values, selection=pytest_args(c)))


def fetch_models(c: Context, values: Values) -> int:
    """Resolve the referenced models as llama.cpp would and download them into the cache;
    with PYTEST ARGS, only those the tests pytest selects with them need."""
    from . import commands

    return commands.fetch_models(_options(c, values, selection=pytest_args(c)))


def lock_models(c: Context, values: Values) -> int:
    """Pin the exact files (commit, size, sha256) every referenced model resolves to in a lock
    file; with PYTEST ARGS, only the models of the tests pytest selects."""
    from . import commands

    options = _options(c, values, selection=pytest_args(c))
    return commands.lock_models(options, check=values["task"]["check"])


def prune_models(c: Context, values: Values) -> int:
    """List (or with --yes remove) what the suite no longer needs in the cache: snapshots other
    than the current or locked commit, blobs nothing links to, stale partial downloads."""
    from . import commands

    given = pytest_args(c)
    if given:
        raise Exit(f"error: models.prune takes no pytest arguments: {shlex.join(given)}",
                   code=ExitCode.USAGE)
    switches = values["task"]
    return commands.prune_models(_options(c, values), yes=switches["yes"],
                                 unreferenced=switches["unreferenced"])


def run_tests(c: Context, values: Values) -> int:
    """Run the server tests as tools/server/tests/tests.sh does, after models.fetch has fetched
    the models of exactly the tests pytest selects; PYTEST ARGS go to pytest.

    Depends on models.fetch: it runs first, with models.fetch's configured options and the
    selection, unless --no-fetch (or `test: {fetch: false}`).
    """
    from .server_tests import run_server_tests

    options = _options(c, values, check_test=False)
    run_flags = {k: v for k, v in values["test"].items() if k not in ("suite", "python")}
    try:
        run = build_server_run(c.config.test, os.environ, pytest_args(c) or [], **run_flags)
    except OptionsError as exc:
        raise _refused(c, exc) from exc
    return run_server_tests(options, run)


class _Tasks(Collection):
    """A section of tasks whose configuration files are checked before Invoke merges them.

    Invoke asks the collection holding a task for its configuration (`Executor.execute`,
    through `Collection.task_with_config`) just before it merges the files with it, where a
    section that clashes (`models: [1, 2]`) is an `AmbiguousMergeError` traceback. Under
    `fetch-test-models` the files are read by `CheckedConfig`; under `invoke -r CLONE` by
    Invoke's own `Config`: so they are read here once more, by the same loader, which stops
    the task with one line first."""

    def configuration(self, taskpath: str | None = None) -> dict[str, Any]:
        load_config(runtime_file(), _PROJECT if (_PROJECT / "tasks.py").is_file() else None,
                    namespace.configuration())
        return super().configuration(taskpath)


#: Where `invoke -r CLONE` finds the tasks file, and beside it a project configuration file.
_PROJECT = Path(__file__).resolve().parents[2]

namespace = Collection(
    _Tasks("models", _task("list", list_models), _task("fetch", fetch_models),
           _task("lock", lock_models), _task("prune", prune_models)),
    _Tasks("test", _task("server", run_tests)))
# On the root so that every task sees both sections (`test.server` reads `models:` too).
namespace.configure({"models": config_defaults(ModelsOptions),
                     "test": config_defaults(TestOptions)})
