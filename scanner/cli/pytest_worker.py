"""The pytest plugin's part in an xdist worker (`pytest_plugin.py`): it waits for the offline
switches its controller found before it imports the test modules, and writes what it collected
where the controller reads it (`pytest_fetch.py` fetches for it). Light: every worker of the
run imports it while the run starts, so it imports nothing of the tool but the selection
plugin's standard-library modules.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from ..selection.standalone import fetch_test_models_xdist as handoff
from ..selection.standalone.fetch_test_models_selection import selection_document

#: The file an xdist worker writes its collection to, handed to it by the controller.
WORKER_KEY = "fetch_test_models_selection"
#: In the worker's file: how many collection errors it met (pytest's `session.testsfailed`).
ERRORS_KEY = "collection_errors"


class _WorkerReport:
    """An xdist worker: writes the items it collected where the controller reads them."""

    def __init__(self, target: str, names: list[str]) -> None:
        self.target = target
        self.names = names

    @pytest.hookimpl(tryfirst=True)  # before xdist tells the controller that it has collected
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        document = selection_document(session, self.names)
        document[ERRORS_KEY] = session.testsfailed
        handoff.write_document(self.target, document)


class _EarlyEnv:
    """An xdist worker: before it imports the test modules, the offline switches its controller
    found while the workers started (`_Fetcher._predict`), waited for."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path, self.timeout = path, timeout

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self) -> None:
        deadline = time.monotonic() + self.timeout
        while (found := handoff.read_document(self.path)) is None:
            if time.monotonic() > deadline:  # the controller's collection limit says the rest
                return
            time.sleep(0.01)
        os.environ.update(found)


def register(config: pytest.Config, workerinput: dict[str, Any]) -> None:
    """What the controller handed this worker (nothing: the plugin is off in the controller)."""
    target = workerinput.get(WORKER_KEY)
    if not target:
        return
    early = workerinput.get(WORKER_KEY + "_early")
    if early:
        config.pluginmanager.register(_EarlyEnv(early, workerinput[WORKER_KEY + "_timeout"]),
                                      "fetch-test-models-early")
    names = workerinput.get(WORKER_KEY + "_names", [])
    config.pluginmanager.register(_WorkerReport(target, names), "fetch-test-models-worker")
    config.pluginmanager.register(handoff.TakeEnv(target), "fetch-test-models-env")
