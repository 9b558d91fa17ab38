"""Invoke tasks: `models.list`, `models.fetch`, `test.server`.

Thin by design: each task merges its flags with the `models:` config and calls `scanner`.
Run from a llama.cpp checkout with `invoke -r <this repo> models.list`.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import Task, task
from pydantic import ValidationError

from scanner import commands
from scanner.options import CONFIG_DEFAULTS, TEST_DEFAULTS, Options, build_options

SCAN_HELP = {
    "root": "project root the globs are relative to (default: current directory)",
    "tests": "glob of test files, relative to root; repeatable "
    "(default: tools/server/tests/**/*.py)",
    "json": "print one JSON document instead of tables",
    "strict": "exit 1 when the scan has diagnostics",
    "deny": "glob of repos never to fetch, e.g. '*/this-model-does-not-exist'; repeatable",
}


def _options(c: Context, **flags: Any) -> Options:
    """Merge flags over config; a bad value is a usage error, not a traceback."""
    try:
        return build_options(c.config.models, **flags)
    except ValidationError as exc:
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Exit(f"error: invalid option: {why}", code=2) from exc
    except ValueError as exc:
        raise Exit(f"error: invalid option: {exc}", code=2) from exc


def _finish(code: int) -> None:
    if code:
        raise Exit(code=code)


@task(name="list", iterable=["tests", "deny"], help=SCAN_HELP)
def list_(
    c: Context, root: str | None = None, tests: Any = None, json_: bool = False,
    strict: bool = False, deny: Any = None,
) -> None:
    """List every Hugging Face model the test suite references."""
    options = _options(
        c, root=root, tests=tests, json=json_, strict=strict, deny=deny
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
) -> None:
    """Resolve every referenced model as llama.cpp would and download it into the cache."""
    options = _options(
        c, root=root, tests=tests, json=json_, strict=strict, deny=deny,
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


def _fetch_first(c: Context) -> None:
    """`models.fetch` with its configured options, unless `test.fetch` is false."""
    if c.config.test.fetch:
        fetch(c)


SERVER_HELP = {
    "suite": "folder of the test suite under models.root (default: tools/server/tests)",
    "offline": "run the tests offline (LLAMA_ARG_OFFLINE=1, HF_HUB_OFFLINE=1)",
    "slow": "also run the slow tests (SLOW_TESTS=1, as tools/server/tests/tests.sh does)",
}


@task(pre=[Task(_fetch_first, name="fetch")], help=SERVER_HELP)
def server(c: Context, suite: str | None = None, offline: bool = False,
           slow: bool = False) -> None:
    """Fetch the suite's models (pre-task), then run pytest; arguments after `--` go to pytest.

    Skip the fetch with `test: {fetch: false}` in invoke.yaml or INVOKE_TEST_FETCH=0.
    """
    options = _options(c)
    settings = c.config.test
    code = commands.run_server_tests(
        options, suite or settings.suite, _pytest_args(c),
        offline=offline or bool(settings.offline), slow=slow or bool(settings.slow))
    _finish(code)


namespace = Collection(Collection("models", list_, fetch), Collection("test", server))
# On the root so that every task sees both sections (`test.server` reads `models:` too).
namespace.configure({"models": CONFIG_DEFAULTS, "test": TEST_DEFAULTS})
