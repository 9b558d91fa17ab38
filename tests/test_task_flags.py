"""Each task's flags come from the option declarations alone: every flag Invoke offers is an
option of `scanner/cli/declarations.py` with its help, and each parameter a task's body names
is offered."""

from __future__ import annotations

import copy
import dataclasses
import inspect

import pytest
from invoke.context import Context

from scanner.cli.declarations import SECTIONS, TaskSwitches
from scanner.cli.tasks import Text, flags_task, namespace

TASKS = {"list": "models.list", "fetch": "models.fetch", "lock": "models.lock",
         "prune": "models.prune", "server": "test.server"}


def params(task: str) -> list[str]:
    """The flags a task's body takes, as its parameters after the context."""
    return [*inspect.signature(namespace[TASKS[task]].body).parameters][1:]


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_flag_is_a_declared_option_with_its_help(task: str) -> None:
    # a copy: Invoke takes the help texts out of a task it reads (tests/test_options.py
    # shows them, in the same process under xdist)
    arguments = copy.deepcopy(namespace[TASKS[task]]).get_arguments()
    offered = {argument.name: argument for argument in arguments}
    own = ("test", "models", "task") if task == "server" else ("models", "test", "task")
    for param in params(task):
        name = param.rstrip("_").removeprefix("no_")
        section = next(s for s in own if name in {f.name for f in dataclasses.fields(SECTIONS[s])})
        declared = {f.name: f for f in dataclasses.fields(SECTIONS[section])}[name]
        negated = declared.default is True and declared.metadata["off"]
        flag = f"no_{name}" if negated else name
        flag = "json_" if flag == "json" else flag  # Invoke spells it --json
        assert flag in offered, f"{TASKS[task]} lacks --{flag.replace('_', '-')}"
        help_text = declared.metadata["off"] if negated else declared.metadata["help"]
        assert offered.pop(flag).help in (help_text, "print the plan and the outcome as one "
                                                     "JSON document")
    assert offered == {}, f"flags no option declares: {sorted(offered)}"


def test_task_switches_are_flags_of_one_task_each() -> None:
    for switch in dataclasses.fields(TaskSwitches):
        owners = [task for task in TASKS if switch.name in params(task)]
        assert len(owners) == 1, switch.name


def test_a_flag_no_option_declares_or_with_another_default_is_refused() -> None:
    def undeclared(c: Context, colour: Text = None) -> None:
        """Not a flag of the tool."""

    def on_by_default(c: Context, verify: bool = True) -> None:
        """--verify is off unless given: `--[no-]verify` would say otherwise."""

    with pytest.raises(TypeError, match="--colour is no option"):
        flags_task("fetch")(undeclared)
    with pytest.raises(TypeError, match="--verify must default to False"):
        flags_task("fetch")(on_by_default)
