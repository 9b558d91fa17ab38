"""The command keeps pytest's habits: the tool's flags are long only, and every other word after
the task goes to pytest, `--` or not (`scanner/cli/routing.py`)."""

from __future__ import annotations

import copy

import pytest

from scanner.cli.routing import long_flags, route
from scanner.cli.tasks import namespace

TASKS = list(namespace.task_names)
CORE = {"-f": True, "--config": True, "--help": False, "-h": False, "--list": False}


@pytest.mark.parametrize(("argv", "invoke_parses", "to_pytest"), [
    pytest.param(["test.server", "unit/test_basic.py", "-k", "start_simple", "-x"],
                 ["test.server", "--", "unit/test_basic.py", "-k", "start_simple", "-x"],
                 ["unit/test_basic.py", "-k", "start_simple", "-x"], id="a tests.sh line"),
    pytest.param(["test.server", "-n", "4", "--workers", "2", "-k", "embedding"],
                 ["test.server", "--workers", "2", "--", "-n", "4", "-k", "embedding"],
                 ["-n", "4", "-k", "embedding"], id="the tool's flag among pytest's"),
    pytest.param(["test.server", "-k", "--", "unit/test_basic.py"],
                 ["test.server", "--", "-k", "unit/test_basic.py"],
                 ["-k", "unit/test_basic.py"], id="-k is never --keep-going"),
    pytest.param(["test.server", "--keep-going", "--", "--workers", "3"],
                 ["test.server", "--keep-going", "--", "--workers", "3"],
                 ["--workers", "3"], id="after -- everything is pytest's"),
    pytest.param(["-f", "test.server", "models.list", "--json", "--root=/x", "-q"],
                 ["-f", "test.server", "models.list", "--json", "--root=/x", "--", "-q"],
                 ["-q"], id="a core flag's value is no task"),
    pytest.param(["models.fetch", "--no-urls", "--rootdir=/y", "--dry-run"],
                 ["models.fetch", "--no-urls", "--dry-run", "--", "--rootdir=/y"],
                 ["--rootdir=/y"], id="a pytest flag that starts like one of the tool's"),
    pytest.param(["test.server", "--help"], ["test.server", "--help"], None, id="help"),
    pytest.param(["test.server"], ["test.server"], None, id="nothing for pytest"),
    pytest.param(["test.server", "--"], ["test.server", "--"], [], id="an empty --"),
    pytest.param(["--list"], ["--list"], None, id="no task"),
])
def test_what_is_the_tool_s_and_what_goes_to_pytest(
    argv: list[str], invoke_parses: list[str], to_pytest: list[str] | None
) -> None:
    routed = route(["fetch-test-models", *argv], TASKS, CORE)
    assert routed.argv == ["fetch-test-models", *invoke_parses]
    assert routed.pytest_args == to_pytest


def test_no_flag_of_the_tool_is_a_short_one() -> None:
    tasks = copy.deepcopy(namespace)  # Invoke takes the help texts out of the tasks it reads
    for task in TASKS:
        assert all(flag.startswith("--") for flag in long_flags(task)), task
        for argument in tasks[task].get_arguments():
            assert argument.nicknames == (), f"{task} --{argument.name}"
