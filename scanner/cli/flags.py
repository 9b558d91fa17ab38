"""A task's flags, derived from the option declarations (`scanner/cli/declarations.py`: `TASK_FLAGS`
and each option's type, default and help), so that adding an option means declaring it there
and using it where it acts. Invoke reads a task's flags from its body's signature, which is
built here."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import Any, NamedTuple

from .declarations import SECTIONS, TASK_FLAGS, TASK_HELP


class TaskFlag(NamedTuple):
    """One flag: the option it sets (`section`, `name`), as Invoke sees it (`param`)."""

    section: str  # "models", "test" or "task"
    name: str
    param: str  # `json_` for --json, `no_mmproj` for an option on by default
    default: Any
    help: str
    negated: bool  # the flag switches the option off
    repeatable: bool
    switch: bool  # on by default, as `--[no-]NAME` (Invoke's form for a True default)


def task_flags(task: str) -> list[TaskFlag]:
    return [_flag(task, entry) for entry in TASK_FLAGS[task]]


def _flag(task: str, entry: str) -> TaskFlag:
    section, _, name = entry.rpartition(".")
    section = section or "models"
    declared = {f.name: f for f in dataclasses.fields(SECTIONS[section])}[name]
    # on by default: `--no-NAME` when the option says how (`off`), else `--[no-]NAME`
    negated = declared.default is True and declared.metadata["off"] is not None
    switch = declared.default is True and not negated
    repeatable = "list[" in str(declared.type)
    param = f"no_{name}" if negated else ("json_" if name == "json" else name)
    help_text = declared.metadata["off"] if negated else TASK_HELP.get(
        (task, name), declared.metadata["help"])
    default = switch if isinstance(declared.default, bool) else None
    return TaskFlag(section, name, param, default, help_text, negated, repeatable, switch)


def signature(flags: list[TaskFlag]) -> inspect.Signature:
    """`(c, *, FLAG=default, ...)`, the signature Invoke reads the flags from."""
    context = inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return inspect.Signature([context, *(
        inspect.Parameter(flag.param, inspect.Parameter.KEYWORD_ONLY, default=flag.default)
        for flag in flags)])


def by_section(flags: list[TaskFlag], given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The values given, by section and option name; a flag that switches its option off and
    was given says False, one left as it was leaves the option to configuration (None)."""
    values: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for flag in flags:
        value = given.get(flag.param, flag.default)
        if flag.negated:
            value = False if value else None
        elif flag.switch:
            value = None if value else False
        values[flag.section][flag.name] = value
    return values
