"""`fetch-test-models`: the task collection as a command of its own, through Invoke's
`Program` (Invoke's way to ship a collection as a distinct binary), so an installed tool runs
`fetch-test-models test.server` from any checkout, with `--help`, `--list` and `--version`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from invoke.program import Program

from .config_files import CheckedConfig
from .tasks import namespace


def _version() -> str:
    try:
        return version("fetch-test-models")
    except PackageNotFoundError:  # run from a clone that was never installed
        return "unknown"


program = Program(namespace=namespace, name="fetch-test-models", binary="fetch-test-models",
                  version=_version(), config_class=CheckedConfig)
