"""Invoke tasks: `models.list`, `models.fetch`, `test.server`.

Thin by design: each task merges its flags with the `models:` config and calls `scanner`.
Run from a llama.cpp checkout with `invoke -r <this repo> models.list`.
"""

from __future__ import annotations

from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from scanner import commands
from scanner.options import CONFIG_DEFAULTS, build_options

SCAN_HELP = {
    "root": "project root the globs are relative to (default: current directory)",
    "tests": "glob of test files, relative to root; repeatable "
    "(default: tools/server/tests/**/*.py)",
    "json": "print one JSON document instead of tables",
    "strict": "exit 1 when the scan has diagnostics",
    "deny": "glob of repos never to fetch, e.g. '*/this-model-does-not-exist'; repeatable",
}


def _finish(code: int) -> None:
    if code:
        raise Exit(code=code)


@task(name="list", iterable=["tests", "deny"], help=SCAN_HELP)
def list_(
    c: Context, root: str | None = None, tests: Any = None, json_: bool = False,
    strict: bool = False, deny: Any = None,
) -> None:
    """List every Hugging Face model the test suite references."""
    options = build_options(
        c.config.models, root=root, tests=tests, json=json_, strict=strict, deny=deny
    )
    _finish(commands.list_models(options))


models = Collection("models", list_)
models.configure({"models": CONFIG_DEFAULTS})
namespace = Collection(models)
