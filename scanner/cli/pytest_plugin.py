"""The pytest plugin: `pytest --fetch-models` fetches what the collected tests need, after
pytest's own collection and deselection and before the first fixture runs (llama.cpp's
session fixture `load_all` starts every preset, so each must be cached by then).

Registered as a `pytest11` entry point, or loaded with `-p scanner.cli.pytest_plugin`; inert
unless asked by `--fetch-models`, the ini key `fetch_models = true` or `FETCH_TEST_MODELS=1`
(so `PYTEST_ADDOPTS=--fetch-models ./tests.sh` and `FETCH_TEST_MODELS=1 ./tests.sh` both work).
Until then it imports nothing but the standard library: the work is in `pytest_fetch.py`,
an xdist worker's part in `pytest_worker.py`.
In a pytest that `test.server` runs, the plugin stands down: the task fetches for that run.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

#: Switches the plugin on, like `--fetch-models`.
ENABLE_VAR = "FETCH_TEST_MODELS"
_TRUE = ("1", "true", "yes", "on")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fetch-test-models")
    group.addoption("--fetch-models", action="store_true", default=False,
                    help="fetch the Hugging Face models the selected tests need before the "
                         f"first test (also: ini fetch_models, {ENABLE_VAR}=1)")
    group.addoption("--fetch-models-keep-going", action="store_true", default=False,
                    help="run the tests even when fetching a model they need failed")
    parser.addini("fetch_models", type="bool", default=False,
                  help="fetch the models the selected tests need before the first test")
    parser.addini("fetch_models_keep_going", type="bool", default=False,
                  help="run the tests even when fetching a model they need failed")


def enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("fetch_models") or config.getini("fetch_models")
                or os.environ.get(ENABLE_VAR, "").lower() in _TRUE)


def pytest_configure(config: pytest.Config) -> None:
    if not enabled(config) or config.option.collectonly or _run_by_the_tool():
        return
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # an xdist worker: it reports, its controller fetches
        from . import pytest_worker

        pytest_worker.register(config, workerinput)
        return
    from . import pytest_fetch

    pytest_fetch.register(config)


def _run_by_the_tool() -> bool:
    """A pytest that `test.server` (or a selection after `--`) started: the tool fetches for
    it already, so the plugin stands down (one fetch per run, whichever way it was asked for).
    The tool marks it by where its own selection plugin writes."""
    from ..selection.standalone.fetch_test_models_selection import OUTPUT_VAR

    return bool(os.environ.get(OUTPUT_VAR))
