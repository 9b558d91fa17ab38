"""`test.server` typed again as before starts its pytest before the tool has loaded itself,
from the launch the last such run kept; a launch that no longer fits, or a run refused, ends
that pytest unseen. The llama-server here is a stand-in (a shell script that prints a
version)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from scanner.cli import early, launches
from scanner.selection.spawn import Launch
from tests.downloads import wait_for
from tests.fakehub import FakeHub
from tests.helpers import invoke_command
from tests.test_onboarding import run, serve_model, server_suite, standin_server
from tests.test_stopping import alive

TOKEN = "hf_early_start_secret"


class Suite:
    def __init__(self, tmp_path: Path) -> None:
        self.root = server_suite(tmp_path / "proj")
        self.cache = tmp_path / "cache"
        self.binary = standin_server(tmp_path / "bin" / "llama-server")
        self.pids = tmp_path / "pids"
        self.pids.touch()
        # the suite's interpreter notes the PID of each process it starts (pytest, as it
        # execs this interpreter) before anything else
        self.python = tmp_path / "python"
        self.python.write_text(f'#!/bin/sh\necho $$ >> {shlex.quote(str(self.pids))}\n'
                               f'exec {shlex.quote(sys.executable)} "$@"\n')
        self.python.chmod(0o755)
        self.home = tmp_path / "home"  # its .invoke.yaml: configuration outside the command
        self.home.mkdir()

    def test_server(self, *args: str) -> tuple[int, str, str]:
        result = run(invoke_command("test.server", "--python", str(self.python), *args),
                     self.root, self.cache,
                     LLAMA_SERVER_BIN_PATH=str(self.binary), HF_TOKEN=TOKEN,
                     HOME=str(self.home))
        return result.returncode, result.stdout, result.stderr

    def launches(self) -> list[Path]:
        return sorted((self.cache / ".locks/.fetch-test-models/launches").glob("*.json"))

    def no_pytest_left(self) -> None:
        """Every pytest started ends once its `test.server` has (SIGTERM, then SIGKILL)."""
        pids = [int(pid) for pid in self.pids.read_text().split()]
        wait_for(lambda: not any(alive(pid) for pid in pids), "every pytest started to end")


@pytest.fixture
def suite(fake_hub: FakeHub, hub_env: Path, tmp_path: Path) -> Suite:
    serve_model(fake_hub)
    return Suite(tmp_path)


def header_first(stdout: str) -> bool:
    """pytest's header came before the tool's setup lines."""
    return stdout.index("test session starts") < stdout.index("llama-server ")


def test_a_run_typed_again_starts_pytest_first_and_keeps_no_secret(suite: Suite) -> None:
    code, first, err = suite.test_server()
    assert code == 0 and "1 passed" in first, first + err
    assert not header_first(first), "nothing kept yet: the setup, then pytest"
    (kept,) = suite.launches()
    assert TOKEN not in kept.read_text() and "HF_TOKEN" not in kept.read_text()
    code, again, err = suite.test_server()
    assert code == 0 and again.count("1 passed") == 1, again + err
    assert header_first(again), again
    assert again.count("test session starts") == 1, "the pytest started early is the run's"
    assert suite.launches() == [kept]
    suite.no_pytest_left()


def test_a_launch_that_no_longer_fits_is_ended_and_the_run_starts_its_own(
    suite: Suite,
) -> None:
    """The configuration changed what pytest gets (slow tests allowed, in ~/.invoke.yaml):
    the pytest started early is ended, the run's own runs the tests."""
    assert suite.test_server()[0] == 0
    (kept,) = suite.launches()
    before = json.loads(kept.read_text())["command"]
    (suite.home / ".invoke.yaml").write_text("test:\n  slow: true\n")
    code, out, err = suite.test_server()
    assert code == 0 and out.count("1 passed") == 1, out + err
    assert json.loads(kept.read_text())["command"] != before, "the new launch is kept"
    assert "no test ran" not in out + err, "the one started early was ended unseen"
    suite.no_pytest_left()


def test_a_run_refused_ends_the_pytest_started_early(suite: Suite) -> None:
    assert suite.test_server()[0] == 0
    suite.binary.unlink()
    code, out, err = suite.test_server()
    assert code == 2 and "llama-server" in err and "Traceback" not in err, out + err
    assert "passed" not in out and "no test ran" not in out + err, "ended unseen"
    assert "INTERNALERROR" not in out and "Traceback" not in out
    suite.no_pytest_left()


def test_launches_kept_are_the_newest_few(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """One launch per command line, folder and environment typed: the oldest go."""
    folder = tmp_path / "launches"
    launch = Launch.of(["python", "-m", "pytest"], tmp_path, {"A": "1"})
    for number in range(launches.KEPT + 3):
        monkeypatch.setattr(launches._State, "key", f"{number:032d}")
        monkeypatch.setattr(launches._State, "folder", folder)
        launches.keep(launch, {"A": "1"})
        os.utime(folder / f"{number:032d}.json", (number, number))
    kept = sorted(path.stem for path in folder.iterdir())
    assert kept == [f"{number:032d}" for number in range(3, launches.KEPT + 3)]


def test_ctrl_c_while_the_command_loads_is_one_line_and_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before any task could take it (here: while the kept launch is looked for)."""
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(launches, "start_kept", interrupted)
    with pytest.raises(SystemExit) as ended:
        early.main()
    assert ended.value.code == 130
    assert capsys.readouterr().err == ("interrupted: stopped by Ctrl-C before anything was "
                                       "done\n")
