"""The Invoke collection: `models.list`, `models.fetch`, `models.lock`, `models.prune`,
`test.server`.

Thin by design: each task merges its flags with its config section and calls `scanner`. The
options, their defaults and help texts are declared once, in `scanner/options.py`. The
`fetch-test-models` command (`program.py`) runs this collection; so does `invoke -r CLONE`,
through the clone's top-level `tasks.py`.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from ..errors import ExitCode, OptionsError
from ..options import (
    ModelsOptions,
    Options,
    TestOptions,
    build_options,
    build_server_run,
    check_section,
    config_defaults,
    help_texts,
)

SCAN_FLAGS = ("root", "tests", "json", "strict", "deny")
FETCH_FLAGS = ("cache_dir", "jobs", "connections", "dry_run", "offline", "verify", "timeout",
               "backend", "llama_bin", "llama_timeout", "lock", "locked")
SUITE_HELP = help_texts(TestOptions, "suite", "python")


def _options(c: Context, check_test: bool = True, **flags: Any) -> Options:
    """Flags over the `models:` section; a bad value is a usage error, never a traceback.
    The `test:` section is checked too (`test.server` checks it with its own flags)."""
    try:
        if check_test:
            check_section(c.config.test)
        return build_options(c.config.models, suite=flags.pop("suite", None) or
                             c.config.test.suite, python=flags.pop("python", None) or
                             c.config.test.python, **flags)
    except OptionsError as exc:
        raise Exit(f"error: invalid option: {exc}", code=ExitCode.USAGE) from exc


def _finish(code: int) -> None:
    if code:
        raise Exit(code=code)


def _pytest_args(c: Context) -> list[str]:
    """What followed `--`, as the shell split it (Invoke's remainder re-joins it with spaces,
    which would break `-k "a or b"`)."""
    if "--" in sys.argv:
        return sys.argv[sys.argv.index("--") + 1:]
    return shlex.split(c.remainder)


def _selection(c: Context) -> list[str] | None:
    """The pytest arguments after `--`, or None (no `--`: the whole suite)."""
    return _pytest_args(c) if "--" in sys.argv or c.remainder else None


@task(name="list", iterable=["tests", "deny"],
      help={**help_texts(ModelsOptions, *SCAN_FLAGS), **SUITE_HELP})
def list_(
    c: Context, root: str | None = None, tests: Any = None, json_: bool = False,
    strict: bool = False, deny: Any = None, suite: str | None = None, python: str | None = None,
) -> None:
    """List the Hugging Face models the test suite references; `-- PYTEST ARGS`: only those
    the tests pytest selects with these arguments need."""
    from .. import commands

    options = _options(c, root=root, tests=tests, json=json_, strict=strict, deny=deny,
                       suite=suite, python=python, selection=_selection(c))
    _finish(commands.list_models(options))


@task(iterable=["tests", "deny"], help={
    **help_texts(ModelsOptions, *SCAN_FLAGS, *FETCH_FLAGS,
                 json="print the plan and the outcome as one JSON document"),
    "no_mmproj": "do not fetch the multimodal projector of vision repos",
    "urls": "--no-urls: do not fetch the GGUF files named by Hub URLs, nor put them where the "
            "suite reads them (the tests then download them themselves); --urls: the default",
    **SUITE_HELP})
def fetch(
    c: Context, root: str | None = None, tests: Any = None, json_: bool = False,
    strict: bool = False, deny: Any = None, cache_dir: str | None = None,
    jobs: int | None = None, dry_run: bool = False,
    offline: bool = False, no_mmproj: bool = False, urls: bool = True, verify: bool = False,
    timeout: str | None = None, backend: str | None = None, llama_bin: str | None = None,
    llama_timeout: str | None = None, suite: str | None = None, lock: str | None = None,
    locked: bool = False, connections: int | None = None,  # last: the short flags stay as they were
    python: str | None = None,
) -> None:
    """Resolve the referenced models as llama.cpp would and download them into the cache;
    `-- PYTEST ARGS`: only those the tests pytest selects with these arguments need."""
    from .. import commands

    options = _options(
        c, root=root, tests=tests, json=json_, strict=strict, deny=deny,
        cache_dir=cache_dir, jobs=jobs, connections=connections, dry_run=dry_run,
        offline=offline,
        mmproj=False if no_mmproj else None,
        urls=None if urls else False, verify=verify, timeout=timeout,
        backend=backend, llama_bin=llama_bin, llama_timeout=llama_timeout, suite=suite,
        lock=lock, locked=locked, python=python, selection=_selection(c),
    )
    _finish(commands.fetch_models(options))


@task(name="lock", iterable=["tests", "deny"], help={
    **help_texts(ModelsOptions, "root", "tests", "deny", "lock"), **SUITE_HELP,
    "check": "do not write: exit 1 when the lock is not what would be written (for CI)"})
def lock_(
    c: Context, root: str | None = None, tests: Any = None, deny: Any = None,
    suite: str | None = None, lock: str | None = None, check: bool = False,
    python: str | None = None,
) -> None:
    """Pin the exact files (commit, size, sha256) every referenced model resolves to in a lock
    file; `-- PYTEST ARGS`: only the models of the tests pytest selects."""
    from .. import commands

    options = _options(c, root=root, tests=tests, deny=deny, suite=suite, lock=lock,
                       python=python, selection=_selection(c))
    _finish(commands.lock_models(options, check=check))


@task(help={**help_texts(ModelsOptions, "root", "locked"),
            **help_texts(TestOptions, "suite", "offline", "slow", "workers", "keep_going",
                         "python"),
            "no_fetch": "do not run models.fetch first"})
def server(c: Context, root: str | None = None, suite: str | None = None,
           offline: bool = False, slow: bool = False, workers: str | None = None,
           no_fetch: bool = False, keep_going: bool = False, locked: bool = False,
           python: str | None = None) -> None:
    """Run the server tests as tools/server/tests/tests.sh does, after models.fetch has fetched
    the models of exactly the tests pytest selects; arguments after `--` go to pytest.

    Depends on models.fetch: it runs first, with models.fetch's configured options and the
    selection, unless --no-fetch (or `test: {fetch: false}`).
    """
    from ..server_tests import run_server_tests

    options = _options(c, check_test=False, root=root, suite=suite, locked=locked,
                       python=python)
    try:
        run = build_server_run(c.config.test, os.environ, _pytest_args(c), offline=offline,
                               slow=slow, workers=workers, fetch=False if no_fetch else None,
                               keep_going=keep_going)
    except OptionsError as exc:
        raise Exit(f"error: invalid option: {exc}", code=ExitCode.USAGE) from exc
    _finish(run_server_tests(options, run))


@task(iterable=["tests"], help={
    **help_texts(ModelsOptions, "root", "tests", "cache_dir", "lock"),
    **help_texts(TestOptions, "suite"), "yes": "remove what is listed (default: only list it)",
    "unreferenced": "also whole repos that no reference of the suite names"})
def prune(c: Context, root: str | None = None, tests: Any = None, cache_dir: str | None = None,
          suite: str | None = None, lock: str | None = None, yes: bool = False,
          unreferenced: bool = False) -> None:
    """List (or with --yes remove) what the suite no longer needs in the cache: snapshots other
    than the current or locked commit, blobs nothing links to, stale partial downloads."""
    from .. import commands

    options = _options(c, root=root, tests=tests, cache_dir=cache_dir, suite=suite, lock=lock)
    _finish(commands.prune_models(options, yes=yes, unreferenced=unreferenced))


namespace = Collection(Collection("models", list_, fetch, lock_, prune),
                       Collection("test", server))
# On the root so that every task sees both sections (`test.server` reads `models:` too).
namespace.configure({"models": config_defaults(ModelsOptions),
                     "test": config_defaults(TestOptions)})
