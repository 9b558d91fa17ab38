"""The hand-off between pytest-xdist's workers and their controller, for both plugins: the
selection plugin beside this module (its controller waits while the tool fetches) and
`scanner/cli/pytest_fetch.py` (its controller fetches). A worker writes what it collected to
the file its controller named (`write_document`), before xdist tells the controller it has
collected; the controller reads the first worker's file (`read_document`); once the fetch is
done, the variables the tests get are left beside that file (`add_env`), and every process
that runs tests takes them before its first test (`TakeEnv`). A run without xdist is its own
worker and controller.

Like the selection plugin, it runs in the suite's interpreter: the standard library and
pytest's hook library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import pluggy  # pytest's own hook library: light, unlike pytest

hookimpl = pluggy.HookimplMarker("pytest")

#: Beside the collection file: the variables added to the tests' environment once fetched.
ENV_SUFFIX = ".env"


def write_document(target: str, document: Mapping[str, Any]) -> None:
    """`document` at `target`, in one rename: a reader never sees half of it (xdist's workers
    write at once, each to a name of its own first)."""
    partial = f"{target}.{os.getpid()}.partial"
    with open(partial, "w", encoding="utf-8") as out:
        json.dump(document, out)
    os.replace(partial, target)


def read_document(target: str) -> dict[str, Any] | None:
    """What a worker wrote at `target`; None when none did (its collection failed)."""
    if not os.path.exists(target):
        return None
    with open(target, encoding="utf-8") as written:
        document: dict[str, Any] = json.load(written)
    return document


def add_env(target: str, added: Mapping[str, str]) -> None:
    """The variables every test process takes before its first test (none: nothing written)."""
    if added:
        write_document(target + ENV_SUFFIX, dict(added))


class TakeEnv:
    """A process that runs tests, for one session: before its first test sets up its fixtures
    (session ones included), it takes the variables the fetch added. An xdist worker gets its
    first test only after the fetch (its test loop starts earlier, right after its
    collection)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.taken = False

    @hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: Any) -> None:
        if self.taken:
            return
        self.taken = True
        added = read_document(self.target + ENV_SUFFIX)
        if added:
            os.environ.update(added)
