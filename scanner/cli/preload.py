"""While pytest collects (seconds, in its own processes), the tool only waits for it: the
modules its fetch runs on are imported meanwhile, on a thread, so that the tests are not held
for them once the collection is done (a few tenths of a second on a busy machine)."""

from __future__ import annotations

import importlib
import threading

#: What a fetch imports when it starts (`commands.fetch_models`, `selected.suite_scan`); the
#: callers import `commands` no earlier, so that pytest (or its workers) start sooner.
FETCH_MODULES = ("scanner.cli.commands", "scanner.fetch.run", "scanner.fetch.recorded",
                 "scanner.output.fetch_report", "scanner.scan.remembered")


def _import_all() -> None:
    for name in FETCH_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the fetch imports it again, and says what failed
            return


def preload_fetch() -> threading.Thread:
    """Started now; `join` it before the fetch, so that no module is imported by two threads
    at once."""
    thread = threading.Thread(target=_import_all, name="preload-fetch", daemon=True)
    thread.start()
    return thread
