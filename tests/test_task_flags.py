"""Each task's flags come from the option declarations alone: every flag Invoke offers is an
option of `scanner/cli/declarations.py` with its help, and each parameter a task's body names
is offered."""

from __future__ import annotations

import copy
import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest
from invoke.context import Context

from scanner.cli import commands, server_tests
from scanner.cli.declarations import SECTIONS, TaskSwitches
from scanner.cli.options import Options, ServerRun
from scanner.cli.program import FetchTestModels
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
    def switched_off_as_declared(c: Context, mmproj: bool = True) -> None:
        """mmproj is switched off by --no-mmproj, with its own help: no `--[no-]mmproj`."""

    with pytest.raises(TypeError, match="--verify must default to False"):
        flags_task("fetch")(on_by_default)
    with pytest.raises(TypeError, match="--mmproj is no option"):
        flags_task("fetch")(switched_off_as_declared)


def run_task(argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
             ) -> dict[str, Any]:
    """`fetch-test-models ARGV` in this process, with a configuration file that switches on
    what flags switch off; what the task handed to the command it calls."""
    config = tmp_path / "config.yaml"
    config.write_text("models: {mmproj: true, urls: true, connections: 5, offline: false}\n"
                      "test: {fetch: true, offline: false}\n")
    monkeypatch.setenv("HOME", str(tmp_path))  # no user configuration file
    handed: dict[str, Any] = {}

    def fetch(options: Options) -> int:
        handed["options"] = options
        return 0

    def server(options: Options, run: ServerRun) -> int:
        handed.update(options=options, run=run)
        return 0

    monkeypatch.setattr(commands, "fetch_models", fetch)
    monkeypatch.setattr(server_tests, "run_server_tests", server)
    program = FetchTestModels(namespace=copy.deepcopy(namespace), name="fetch-test-models",
                              binary="fetch-test-models", version="0")
    program.run(["fetch-test-models", "-f", str(config), *argv, "--root", str(tmp_path)],
                exit=False)
    return handed


def test_each_flag_sets_the_option_of_its_name_over_the_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    models = run_task(["models.fetch"], monkeypatch, tmp_path)["options"].models
    assert (models.mmproj, models.urls, models.connections, models.json) == (True, True, 5, False)
    given = run_task(["models.fetch", "--no-mmproj", "--no-urls", "--connections", "3",
                      "--json", "--offline", "--tests", "a/*.py", "--tests", "b/*.py"],
                     monkeypatch, tmp_path)["options"]
    models = given.models
    assert (models.mmproj, models.urls, models.connections, models.json) == (
        False, False, 3, True)
    assert models.offline is True and given.scan.tests == ("a/*.py", "b/*.py")


def test_a_server_flag_sets_the_test_option_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    handed = run_task(["test.server", "--offline", "--no-fetch", "--locked"], monkeypatch,
                      tmp_path)
    assert (handed["run"].test.offline, handed["run"].test.fetch) == (True, False)
    assert (handed["options"].models.offline, handed["options"].models.locked) == (False, True)
    handed = run_task(["test.server"], monkeypatch, tmp_path)
    assert (handed["run"].test.offline, handed["run"].test.fetch) == (False, True)
