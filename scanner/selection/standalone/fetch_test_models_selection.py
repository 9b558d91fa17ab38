"""pytest plugin for the selection step: `pytest --collect-only -p fetch_test_models_selection`.

It is loaded explicitly by `scanner.selection.collect`, in the suite's own interpreter (where
this package need not be installed: its folder is put on that interpreter's path), and only
writes, after pytest's own collection and deselection (`-k`, `-m`, paths, node ids, plugins, ini
options), which items the run will execute, and what that interpreter has. It imports nothing
but the standard library, so `collect` can read the names below without importing pytest. The
file it writes is named by `OUTPUT_VAR`; without it, the plugin does nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

#: Where the plugin writes what it found, and which parameter names it reports.
OUTPUT_VAR = "FETCH_TEST_MODELS_SELECTION"
NAMES_VAR = "FETCH_TEST_MODELS_PARAM_NAMES"


def _skip_reason(item: pytest.Item) -> str | None:
    """pytest's own verdict on the item's skip/skipif marks, evaluated in this environment
    (llama.cpp marks slow tests `skipif(not is_slow_test_allowed())`)."""
    try:
        from _pytest.skipping import evaluate_skip_marks
    except ImportError:  # a pytest without it: treat the item as running, which over-fetches
        return None
    try:
        skipped = evaluate_skip_marks(item)
    except Exception:  # a condition that fails here fails the run too; the item still counts
        return None
    return None if skipped is None else (skipped.reason or "skipped")


def _qualname(item: pytest.Item) -> str:
    """`Class.Inner.function` as the static scan names the test (no parametrize id)."""
    name = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
    cls = getattr(item, "cls", None)
    return f"{cls.__qualname__}.{name}" if cls is not None else name


def _params(item: pytest.Item, names: list[str]) -> dict[str, str | None]:
    """The item's values for the configured repo/file names; other types are not model ids."""
    callspec = getattr(item, "callspec", None)
    params: dict[str, Any] = callspec.params if callspec is not None else {}
    return {name: params[name] for name in names
            if name in params and (params[name] is None or isinstance(params[name], str))}


def _pytest_version() -> str:
    import pytest

    return str(pytest.__version__)


def _entry(item: pytest.Item, names: list[str]) -> dict[str, Any]:
    line = item.location[1]
    return {
        "nodeid": item.nodeid,
        "path": str(item.path),
        "qualname": _qualname(item),
        "line": None if line is None else line + 1,
        "params": _params(item, names),
        "skip": _skip_reason(item),
    }


def pytest_collection_finish(session: pytest.Session) -> None:
    target = os.environ.get(OUTPUT_VAR)
    if not target:
        return
    names = json.loads(os.environ.get(NAMES_VAR) or "[]")
    partial = f"{target}.partial"
    with open(partial, "w", encoding="utf-8") as out:
        json.dump(selection_document(session, names), out)
    os.replace(partial, target)  # a reader never sees half a document


def selection_document(session: pytest.Session, names: list[str]) -> dict[str, Any]:
    """The items the run will execute (after pytest's deselection), with the values of the
    parameters in `names`, and what this interpreter has."""
    config = session.config
    return {
        "items": [_entry(item, names) for item in session.items],
        "python_files": config.getini("python_files"),
        "python_classes": config.getini("python_classes"),
        "python_functions": config.getini("python_functions"),
        "python": sys.executable,
        "pytest_version": _pytest_version(),
        "xdist": importlib.util.find_spec("xdist") is not None,
    }
