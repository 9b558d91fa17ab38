"""The Invoke collection: `models.list`, `models.fetch`, `models.lock`, `models.prune`,
`test.server`.

Thin by design: each task is a plain Invoke task whose parameters are its flags; it merges
them with its config section and calls `scanner`. The options, their defaults and help texts
are declared once, in `scanner/cli/declarations.py`, under the names the parameters have. The
`fetch-test-models` command (`program.py`) runs this collection; so does `invoke -r CLONE`,
through the clone's top-level `tasks.py`.
"""

from __future__ import annotations

import inspect
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import Task, task

from ..errors import ExitCode, OptionsError
from . import declarations as declared
from .config_files import load_config, options_from, refused_names_its_source, runtime_file
from .options import Options, build_server_run

#: What Invoke gives a flag that takes a value (the declaration's type is checked later, with
#: the configuration under it), and one that may be repeated.
Text = str | None
Texts = list[str] | None
TaskBody = Callable[..., None]


def flags_task(name: str) -> Callable[[TaskBody], Task[Any]]:
    """Invoke's `@task` over a body whose parameters after `c` are its flags, each named as the
    option it sets (`scanner/cli/declarations.py`), where its help comes from; the default
    each parameter must have is checked there too, so a body cannot offer a flag that
    differs from its declaration. Long flags only: a short one would shadow pytest's (`-k`,
    `-x`, `-n`; see routing.py)."""
    def make(body: TaskBody) -> Task[Any]:
        params = [*inspect.signature(body).parameters.values()][1:]
        for param in params:
            if param.default is not declared.flag_default(name, param.name):
                raise TypeError(f"{name}: --{param.name} must default to "
                                f"{declared.flag_default(name, param.name)}, as declared")
        made: Task[Any] = task(
            name=name, auto_shortflags=False,
            help={param.name: declared.flag_help(name, param.name) for param in params},
            iterable=[param.name for param in params if declared.repeatable(name, param.name)]
        )(body)
        return made
    return make


def _given(name: str, flags: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A task's flags (its parameters: `locals()` on entry) as the options they set."""
    return declared.by_section(name, {param: value for param, value in flags.items()
                                      if param != "c"})


def _options(c: Context, values: dict[str, dict[str, Any]], check_test: bool = True,
             selection: list[str] | None = None) -> Options:
    """Flags over the `models:` section (`test:` gives the suite and interpreter the flags do
    not); a bad value is a usage error, never a traceback. The `test:` section is checked too
    (`test.server` checks it with its own flags)."""
    test = values["test"]
    try:
        return options_from(c.config, check_test=check_test, suite=test.get("suite"),
                            python=test.get("python"), selection=selection, **values["models"])
    except OptionsError as exc:
        raise _refused(exc) from exc


def _refused(exc: OptionsError) -> Exit:
    """A bad value, and the file or variable it comes from when it is not a flag."""
    return Exit(f"error: invalid option: {exc}", code=ExitCode.USAGE)


def _exit(code: int) -> None:
    if code:
        raise Exit(code=code)


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


@flags_task("list")
def list_models(c: Context, root: Text = None, tests: Texts = None, json_: bool = False,
                strict: bool = False, deny: Texts = None, suite: Text = None,
                python: Text = None, verbosity: Text = None) -> None:
    """List the Hugging Face models the test suite references; with PYTEST ARGS, only
    those the tests pytest selects with them need."""
    values = _given("list", locals())
    from . import commands

    _exit(commands.list_models(_options(c, values, selection=pytest_args(c))))


@flags_task("fetch")
def fetch_models(c: Context, root: Text = None, tests: Texts = None, json_: bool = False,
                 strict: bool = False, deny: Texts = None, cache_dir: Text = None,
                 jobs: Text = None, connections: Text = None, dry_run: bool = False,
                 offline: bool = False, no_mmproj: bool = False, urls: bool = True,
                 verify: bool = False, timeout: Text = None, tries: Text = None,
                 backend: Text = None, llama_bin: Text = None, llama_timeout: Text = None,
                 suite: Text = None, lock: Text = None, locked: bool = False,
                 latest: bool = False, python: Text = None, verbosity: Text = None) -> None:
    """Resolve the referenced models as llama.cpp would and download them into the cache;
    with PYTEST ARGS, only those the tests pytest selects with them need."""
    values = _given("fetch", locals())
    from . import commands

    _exit(commands.fetch_models(_options(c, values, selection=pytest_args(c))))


@flags_task("lock")
def lock_models(c: Context, root: Text = None, tests: Texts = None, deny: Texts = None,
                suite: Text = None, lock: Text = None, check: bool = False,
                python: Text = None, verbosity: Text = None) -> None:
    """Pin the exact files (commit, size, sha256) every referenced model resolves to in a lock
    file; with PYTEST ARGS, only the models of the tests pytest selects."""
    values = _given("lock", locals())
    from . import commands

    options = _options(c, values, selection=pytest_args(c))
    _exit(commands.lock_models(options, check=check))


@flags_task("prune")
def prune_models(c: Context, root: Text = None, tests: Texts = None, cache_dir: Text = None,
                 suite: Text = None, lock: Text = None, yes: bool = False,
                 unreferenced: bool = False, verbosity: Text = None) -> None:
    """List (or with --yes remove) what the suite no longer needs in the cache: snapshots other
    than the current or locked commit, blobs nothing links to, stale partial downloads."""
    values = _given("prune", locals())
    from . import commands

    given = pytest_args(c)
    if given:
        raise Exit(f"error: models.prune takes no pytest arguments: {shlex.join(given)}",
                   code=ExitCode.USAGE)
    _exit(commands.prune_models(_options(c, values), yes=yes, unreferenced=unreferenced))


@flags_task("server")
def run_tests(c: Context, root: Text = None, suite: Text = None, offline: bool = False,
              slow: bool = False, workers: Text = None, no_fetch: bool = False,
              keep_going: bool = False, locked: bool = False, python: Text = None,
              latest: bool = False, online: bool = False, verbosity: Text = None) -> None:
    """Run the server tests as tools/server/tests/tests.sh does, after models.fetch has fetched
    the models of exactly the tests pytest selects; PYTEST ARGS go to pytest.

    Depends on models.fetch: it runs first, with models.fetch's configured options and the
    selection, unless --no-fetch (or `test: {fetch: false}`).
    """
    values = _given("server", locals())
    from .server_tests import run_server_tests

    options = _options(c, values, check_test=False)
    run_flags = {k: v for k, v in values["test"].items() if k not in ("suite", "python")}
    try:
        with refused_names_its_source(c.config):
            run = build_server_run(c.config.test, os.environ, pytest_args(c) or [], **run_flags)
    except OptionsError as exc:
        raise _refused(exc) from exc
    _exit(run_server_tests(options, run))


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
    _Tasks("models", list_models, fetch_models, lock_models, prune_models),
    _Tasks("test", run_tests))
# On the root so that every task sees both sections (`test.server` reads `models:` too).
namespace.configure({"models": declared.config_defaults(declared.ModelsOptions),
                     "test": declared.config_defaults(declared.TestOptions)})
