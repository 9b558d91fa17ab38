"""Invoke tasks: `models.list`, `models.fetch`, `test.server`.

Thin by design: each task merges its flags with the `models:` config and calls `scanner`.
Run from a llama.cpp checkout with `invoke -r <this repo> models.list`.
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
from pydantic import ValidationError

from scanner import commands
from scanner.options import (
    CONFIG_DEFAULTS,
    TEST_DEFAULTS,
    Options,
    build_options,
    build_server_run,
)
from scanner.server_tests import run_server_tests

SCAN_HELP = {
    "root": "project root the globs are relative to (default: current directory)",
    "tests": "glob of test files, relative to root; repeatable "
    "(default: tools/server/tests/**/*.py)",
    "json": "print one JSON document instead of tables",
    "strict": "exit 1 when the scan has diagnostics",
    "deny": "glob of repos never to fetch, e.g. '*/this-model-does-not-exist'; repeatable",
    "suite": "folder of the pytest suite under root, where a selection after `--` is "
    "collected and test.server runs (default: tools/server/tests)",
}


def _options(c: Context, **flags: Any) -> Options:
    """Merge flags over config; a bad value is a usage error, not a traceback."""
    try:
        return build_options(c.config.models, **flags)
    except ValidationError as exc:
        raise Exit(f"error: invalid option: {_why(exc)}", code=2) from exc
    except ValueError as exc:
        raise Exit(f"error: invalid option: {exc}", code=2) from exc


def _why(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def _finish(code: int) -> None:
    if code:
        raise Exit(code=code)


@task(name="list", iterable=["tests", "deny"], help=SCAN_HELP)
def list_(
    c: Context, root: str | None = None, tests: Any = None, json_: bool = False,
    strict: bool = False, deny: Any = None, suite: str | None = None,
) -> None:
    """List the Hugging Face models the test suite references; `-- PYTEST ARGS`: only those
    the tests pytest selects with these arguments need."""
    options = _options(
        c, root=root, tests=tests, json=json_, strict=strict, deny=deny,
        suite=suite or c.config.test.suite, selection=_selection(c),
    )
    _finish(commands.list_models(options))


FETCH_HELP = {
    **SCAN_HELP,
    "json": "print the plan and the outcome as one JSON document",
    "cache_dir": "cache to fill (default: LLAMA_CACHE, HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, "
    "$HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub)",
    "jobs": "concurrent file downloads (default 4)",
    "dry_run": "print the plan and stop",
    "offline": "no network: report each model as present in the cache or missing",
    "no_mmproj": "do not fetch the multimodal projector of vision repos",
    "urls": "also fetch files named by Hub URLs in the tests",
    "verify": "re-hash cached files and fetch again any that do not match",
    "backend": "'native' (huggingface_hub, default) or 'llama' (llama.cpp's own downloader)",
    "llama_bin": "llama.cpp binary for --backend llama (else LLAMA_BIN, LLAMA_CLI_BIN_PATH, "
    "build/bin under root, PATH)",
    "llama_timeout": "seconds one llama.cpp run may take before it is stopped and its model "
    "failed (default: no limit)",
}


@task(iterable=["tests", "deny"], help=FETCH_HELP)
def fetch(
    c: Context, root: str | None = None, tests: Any = None, json_: bool = False,
    strict: bool = False, deny: Any = None, cache_dir: str | None = None,
    jobs: int | None = None, dry_run: bool = False, offline: bool = False,
    no_mmproj: bool = False, urls: bool = False, verify: bool = False,
    backend: str | None = None, llama_bin: str | None = None, llama_timeout: str | None = None,
    suite: str | None = None,
) -> None:
    """Resolve the referenced models as llama.cpp would and download them into the cache;
    `-- PYTEST ARGS`: only those the tests pytest selects with these arguments need."""
    options = _options(
        c, root=root, tests=tests, json=json_, strict=strict, deny=deny,
        suite=suite or c.config.test.suite, selection=_selection(c),
        cache_dir=cache_dir, jobs=jobs, dry_run=dry_run, offline=offline,
        mmproj=False if no_mmproj else None, urls=urls, verify=verify, backend=backend,
        llama_bin=llama_bin, llama_timeout=llama_timeout,
    )
    _finish(commands.fetch_models(options))


def _pytest_args(c: Context) -> list[str]:
    """What followed `--`, as the shell split it (Invoke's remainder re-joins it with spaces,
    which would break `-k "a or b"`)."""
    if "--" in sys.argv:
        return sys.argv[sys.argv.index("--") + 1:]
    return shlex.split(c.remainder)


def _selection(c: Context) -> list[str] | None:
    """The pytest arguments after `--`, or None (no `--`: the whole suite)."""
    return _pytest_args(c) if "--" in sys.argv or c.remainder else None


SERVER_HELP = {
    "root": SCAN_HELP["root"],
    "suite": SCAN_HELP["suite"],
    "offline": "run the tests offline (LLAMA_ARG_OFFLINE=1, HF_HUB_OFFLINE=1)",
    "slow": "also run the slow tests (SLOW_TESTS=1 and no -m \"not slow\", as tests.sh does)",
    "workers": "pytest-xdist workers, as tests.sh's PYTEST_WORKERS (default: PYTEST_WORKERS, "
    "else 4; 1 = no xdist)",
    "no_fetch": "do not run models.fetch first",
    "keep_going": "run the tests even when fetching a model they need failed",
}


@task(help=SERVER_HELP)
def server(c: Context, root: str | None = None, suite: str | None = None,
           offline: bool = False, slow: bool = False, workers: int | None = None,
           no_fetch: bool = False, keep_going: bool = False) -> None:
    """Run the server tests as tools/server/tests/tests.sh does, after models.fetch has fetched
    the models of exactly the tests pytest selects; arguments after `--` go to pytest.

    Depends on models.fetch: it runs first, with models.fetch's configured options and the
    selection, unless --no-fetch (or `test: {fetch: false}`).
    """
    options = _options(c, root=root, suite=suite or c.config.test.suite)
    try:
        run = build_server_run(c.config.test, os.environ, _pytest_args(c), offline=offline,
                               slow=slow, workers=workers, fetch=False if no_fetch else None,
                               keep_going=keep_going)
    except ValidationError as exc:
        raise Exit(f"error: invalid option: {_why(exc)}", code=2) from exc
    _finish(run_server_tests(options, run))


namespace = Collection(Collection("models", list_, fetch), Collection("test", server))
# On the root so that every task sees both sections (`test.server` reads `models:` too).
namespace.configure({"models": CONFIG_DEFAULTS, "test": TEST_DEFAULTS})
