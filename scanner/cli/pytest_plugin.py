"""The pytest plugin: `pytest --fetch-models` fetches what the collected tests need, after
pytest's own collection and deselection and before the first fixture runs (llama.cpp's
session fixture `load_all` starts every preset, so each must be cached by then).

Registered as a `pytest11` entry point, or loaded with `-p scanner.cli.pytest_plugin`; inert
unless asked by `--fetch-models`, the ini key `fetch_models = true` or `FETCH_TEST_MODELS=1`
(so `PYTEST_ADDOPTS=--fetch-models ./tests.sh` and `FETCH_TEST_MODELS=1 ./tests.sh` both work).
Until then it imports nothing but the standard library: the work is in `pytest_fetch.py`.
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
    if not enabled(config) or config.option.collectonly:
        return
    from . import pytest_fetch

    pytest_fetch.register(config)
