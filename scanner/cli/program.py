"""`fetch-test-models`: the task collection as a command of its own, through Invoke's
`Program` (Invoke's way to ship a collection as a distinct binary), so an installed tool runs
`fetch-test-models test.server` from any checkout, with `--help`, `--list` and `--version`.

Two things differ from Invoke's own program: what follows a task and is not the tool's goes to
pytest, `--` or not (`routing.py`); and the help shows the tool's tasks and rule first, then
only the few of Invoke's flags that matter here, in a group of their own."""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any

from invoke.program import Program
from invoke.util import helpline

from .config_files import CheckedConfig
from .routing import TAKE_PYTEST_ARGS, route
from .tasks import namespace

#: Invoke's own flags shown by `--help`: the ones that do something for this tool.
CORE_SHOWN = ("--config", "--help", "--list", "--version", "--debug",
              "--print-completion-script")
ABOUT = ("Find the Hugging Face models a pytest suite needs, fetch them once into the shared "
         "cache, then run the tests.")
RULE = ("The tool's flags are long only (--help TASK lists them); every other word after\n"
        "the task goes to pytest, `--` or not:")
EXAMPLE = "fetch-test-models test.server unit/test_basic.py -k start_simple -x"


def _version() -> str:
    """Looked up only when `--version` asks: every other command would wait for
    importlib.metadata and the lookup before its own work starts."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fetch-test-models")
    except PackageNotFoundError:  # run from a clone that was never installed
        return "unknown"


class FetchTestModels(Program):
    """Invoke's `Program`, with pytest's arguments routed past the tool's flags."""

    pytest_args: list[str] | None = None

    def run(self, argv: list[str] | None = None, exit: bool = True) -> None:
        try:
            super().run(argv, exit)
        except BrokenPipeError:  # `--help | head`: the reader had all it wanted
            # the Python docs' recipe (signal module, "Note on SIGPIPE"): no traceback, and no
            # second error when the interpreter flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)

    def print_version(self) -> None:
        print(f"{self.name} {_version()}")

    def normalize_argv(self, argv: list[str] | None) -> None:
        super().normalize_argv(argv)
        core = {flag: arg.takes_value and not arg.optional
                for flag, arg in self.initial_context.flags.items()}
        routed = route(self.argv, list(self.namespace.task_names) if self.namespace else [],
                       core)
        self.argv = routed.argv
        self.pytest_args = routed.pytest_args

    def update_config(self, merge: bool = True) -> None:
        super().update_config(merge)
        if self.pytest_args is not None:  # read by the tasks (`tasks.pytest_args`)
            self.config["pytest_args"] = self.pytest_args  # type: ignore[assignment]

    def print_help(self) -> None:
        print(f"Usage: {self.binary} TASK [--options] [PYTEST ARGS]\n\n{ABOUT}\n")
        print("Tasks:\n")
        self.print_columns(self._make_pairs(self.collection))
        print(f"{RULE}\n{self.leading_indent}{EXAMPLE}\n")
        print("Other options:\n")
        self.print_columns([pair for pair in self.initial_context.help_tuples()
                            if _names(pair[0]) & set(CORE_SHOWN)])

    def print_task_help(self, name: str) -> None:
        tuples = self.parser.contexts[name].help_tuples()
        tail = " [PYTEST ARGS]" if name in TAKE_PYTEST_ARGS else ""
        print(f"Usage: {self.binary} {name} [--options]{tail}\n")
        print("Docstring:")
        for line in (inspect.getdoc(self.collection[name]) or "none").splitlines():
            print(self.leading_indent + line if line.strip() else "")
        print("\nOptions:")
        self.print_columns(tuples)
        if tail:
            print(f"Every other word after {name}, and all after `--`, goes to pytest.\n")

    def _make_pairs(self, coll: Any, ancestors: list[str] | None = None
                    ) -> list[tuple[str, str | None]]:
        """Invoke's pairs, each task's summary whole (Invoke keeps its first line)."""
        whole = {helpline(task): summary(task) for task in _tasks(self.collection)}
        return [(name, whole.get(text, text))
                for name, text in super()._make_pairs(coll, ancestors)]


def _tasks(collection: Any) -> list[Any]:
    return [*collection.tasks.values(),
            *(task for sub in collection.collections.values() for task in _tasks(sub))]


def summary(task: Any) -> str:
    """A task's first paragraph, on one line."""
    return " ".join((inspect.getdoc(task) or "").split("\n\n")[0].split())


def _names(spec: str) -> set[str]:
    """`-h [STRING], --help[=STRING]` → {"-h", "--help"}."""
    return {part.split("=")[0].split("[")[0].split()[0] for part in spec.split(", ")}


program = FetchTestModels(namespace=namespace, name="fetch-test-models",
                          binary="fetch-test-models",
                          config_class=CheckedConfig)
