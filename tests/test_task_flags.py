"""Each task's flags come from the option declarations alone: every flag Invoke offers is an
option of `scanner/cli/declarations.py` with its help, and each option a task names is offered."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from scanner.cli.declarations import SECTIONS, TASK_FLAGS, TaskSwitches
from scanner.cli.tasks import namespace

TASKS = {"list": "models.list", "fetch": "models.fetch", "lock": "models.lock",
         "prune": "models.prune", "server": "test.server"}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_flag_is_a_declared_option_with_its_help(task: str) -> None:
    # a copy: Invoke takes the help texts out of a task it reads (tests/test_options.py
    # shows them, in the same process under xdist)
    arguments = copy.deepcopy(namespace[TASKS[task]]).get_arguments()
    offered = {argument.name: argument for argument in arguments}
    for entry in TASK_FLAGS[task]:
        section, _, name = entry.rpartition(".")
        declared = {f.name: f for f in dataclasses.fields(SECTIONS[section or "models"])}[name]
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
        owners = [task for task, flags in TASK_FLAGS.items() if f"task.{switch.name}" in flags]
        assert len(owners) == 1, switch.name
