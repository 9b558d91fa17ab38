"""Which words after a task are the tool's and which are pytest's, so that the command keeps
pytest's habits: a tests.sh user types `fetch-test-models test.server unit/test_basic.py -k
start_simple -x` and pytest gets `unit/test_basic.py -k start_simple -x`.

The rule: the tool's flags are long only (`--root`, `--workers N`, `--no-fetch`, as `--help
TASK` lists them) and so is its help (`--help`, `-h`); a task name starts that task's flags;
every other word after the task, and everything after `--`, goes to pytest. Invoke then parses
what is the tool's, with the pytest arguments after its `--`."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from .tasks import namespace

#: The tool's help after a task (`-h` is also pytest's, but `TASK -h` means the task's help).
HELP_FLAGS = ("--help", "-h")
#: Tasks whose pytest arguments narrow the suite to the tests pytest selects (prune has none).
TAKE_PYTEST_ARGS = ("models.list", "models.fetch", "models.lock", "test.server")


class Routed(NamedTuple):
    """argv as Invoke is to parse it, and the pytest arguments (None: none given, no `--`)."""

    argv: list[str]
    pytest_args: list[str] | None


def long_flags(task: str) -> dict[str, bool]:
    """A task's flags as typed (`--keep-going`, `--no-urls`), each with whether it takes a
    value (`models.list` → the parameters of `tasks.list_models`), read as Invoke reads them
    (`Task.arg_opts`: a flag takes a value unless its default is a boolean)."""
    flags: dict[str, bool] = {}
    params = [*inspect.signature(namespace[task].body).parameters.values()][1:]
    for param in params:
        name = "--" + param.name.strip("_").replace("_", "-")
        flags[name] = not isinstance(param.default, bool)
        if param.default is True:  # Invoke's `--[no-]NAME`
            flags["--no-" + name[2:]] = False
    return flags


def route(argv: Sequence[str], tasks: Sequence[str], core_values: Mapping[str, bool]) -> Routed:
    """Split `argv` (program name first) after its first task: the tool's flags stay, the
    rest moves after one `--`. `core_values`: Invoke's own flags before the task, with
    whether each takes a value (so that `-f FILE` is never taken for a task)."""
    head, index = _before_task(argv, tasks, core_values)
    if index == len(argv):
        return Routed(list(argv), None)
    own: list[str] = []
    rest: list[str] = []
    dashed = False
    flags: dict[str, bool] = {}
    words = iter(argv[index:])
    for word in words:
        name = word.split("=", 1)[0]
        if word == "--":
            rest += list(words)
            dashed = True
        elif word in tasks:
            own.append(word)
            flags = long_flags(word)
        elif name in HELP_FLAGS or name in flags:
            own.append(word)
            value = next(words, None) if name == word and flags.get(name) else None
            if value is not None:  # a flag left without its value: Invoke says so
                own.append(value)
        else:
            rest.append(word)
    if not (dashed or rest):
        return Routed([*head, *own], None)
    return Routed([*head, *own, "--", *rest], rest)


def _before_task(argv: Sequence[str], tasks: Sequence[str],
                 core_values: Mapping[str, bool]) -> tuple[list[str], int]:
    """What comes before the first task (program name, Invoke's flags and their values), and
    where the task is (len(argv): there is none)."""
    head = [argv[0]]
    index = 1
    while index < len(argv) and argv[index] not in tasks:
        word = argv[index]
        if word == "--":
            return list(argv), len(argv)
        head.append(word)
        index += 1
        if core_values.get(word) and index < len(argv):
            head.append(argv[index])
            index += 1
    return head, index
