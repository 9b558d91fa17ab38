"""Invoke configuration files the tasks and the plugin cannot use: one line naming the file
and the key, exit 2 (the plugin: pytest's usage error), never a traceback. HOME is a
temporary folder, so the user's own `~/.invoke.yaml` is neither read nor touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import invoke_command, write_suite

#: The `fetch-test-models` command, as its entry point runs it.
TOOL = [sys.executable, "-c", "from scanner.cli.program import program; program.run()"]
TASKS = ["models.list", "models.fetch", "models.lock", "models.prune", "test.server"]


def run(command: list[str], home: Path, root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("INVOKE_", "PYTEST_", "FETCH_TEST_MODELS"))}
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120,
                          env={**inherited, "HOME": str(home), **env})


def project(tmp_path: Path, user_config: str) -> tuple[Path, Path, Path]:
    """A suite, and HOME with `user_config` as its `.invoke.yaml`: (home, root, that file)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".invoke.yaml").write_text(user_config)
    root = write_suite(tmp_path / "proj", "def test_a():\n    pass\n")
    return home, root, home / ".invoke.yaml"


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused configuration prints, after checking how the run ended."""
    assert (result.returncode, "Traceback" in result.stderr) == (2, False), result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("entry", ["fetch-test-models", "invoke -r"])
def test_a_section_that_is_no_mapping_stops_every_task_naming_file_and_key(
    entry: str, task: str, tmp_path: Path
) -> None:
    """`models: [1, 2]` clashed with the section the tasks register: Invoke's
    AmbiguousMergeError traceback, exit 1."""
    home, root, file = project(tmp_path, "models: [1, 2]\n")
    command = [*TOOL, task] if entry == "fetch-test-models" else invoke_command(task)
    assert refused(run(command, home, root)) == (
        f"error: invalid configuration: {file}: models: a mapping of settings is expected "
        "(models: {KEY: VALUE}), not [1, 2]")


@pytest.mark.parametrize(("config", "said"), [
    ("test: {suite: 5}\n", "error: invalid option: suite: Input should be a valid string "
                           "(in FILE)"),
    ("models: {jobs: {a: 1}}\n", "error: invalid configuration: FILE: models.jobs: a value is "
                                 "expected, not a mapping"),
])
@pytest.mark.parametrize("entry", ["fetch-test-models", "invoke -r"])
def test_a_value_a_file_sets_wrongly_is_refused_naming_the_file(
    entry: str, config: str, said: str, tmp_path: Path
) -> None:
    home, root, file = project(tmp_path, config)
    command = [*TOOL, "models.list"] if entry == "fetch-test-models" else \
        invoke_command("models.list")
    assert refused(run(command, home, root)) == said.replace("FILE", str(file))


@pytest.mark.parametrize(("config", "said"), [
    ("models:\n  jobs: [1\n", "FILE, line 3: not valid YAML: expected ',' or ']', but got "
                              "'<stream end>'"),
    ("- models\n", "FILE: holds list ['models'], not a mapping of sections (models: {...}, "
                   "test: {...})"),
])
def test_a_file_invoke_cannot_read_is_one_line_with_the_file_and_line(
    config: str, said: str, tmp_path: Path
) -> None:
    """It was a ParserError / AttributeError traceback, exit 1. (`invoke -r` reads
    `~/.invoke.yaml` itself before it loads any tasks file: there Invoke's traceback remains.)"""
    home, root, file = project(tmp_path, config)
    assert refused(run([*TOOL, "models.list"], home, root)) == (
        "error: invalid configuration: " + said.replace("FILE", str(file)))


def test_a_runtime_file_and_a_variable_are_named_as_the_source(tmp_path: Path) -> None:
    home, root, _ = project(tmp_path, "")
    runtime = tmp_path / "ci.json"
    runtime.write_text('{"models": {"jobs": "many"}}')
    said = refused(run([*TOOL, "-f", str(runtime), "models.fetch"], home, root))
    assert said.startswith("error: invalid option: jobs: Input should be a valid integer")
    assert said.endswith(f" (in {runtime})")
    runtime.write_text('{"models": [')
    assert refused(run([*TOOL, "-f", str(runtime), "models.list"], home, root)).startswith(
        f"error: invalid configuration: {runtime}: not valid JSON: Expecting value: line 1")
    runtime.write_text('{"test": []}')
    assert refused(run(invoke_command("-f", str(runtime), "test.server"), home, root)) == (
        f"error: invalid configuration: {runtime}: test: a mapping of settings is expected "
        "(test: {KEY: VALUE}), not []")
    said = refused(run(invoke_command("models.list"), home, root, INVOKE_MODELS_JOBS="0"))
    assert said == ("error: invalid option: jobs: Input should be greater than or equal to 1 "
                    "(from INVOKE_MODELS_JOBS)")


def test_a_runtime_file_of_another_type_or_a_folder_is_one_line(tmp_path: Path) -> None:
    """`-f ci.toml` was Invoke's UnknownFileType traceback, `-f DIR.yaml` an IsADirectoryError
    one."""
    home, root, _ = project(tmp_path, "")
    runtime = tmp_path / "ci.toml"
    runtime.write_text("[models]\n")
    assert refused(run([*TOOL, "-f", str(runtime), "models.list"], home, root)) == (
        f"error: invalid configuration: {runtime}: not a configuration file Invoke reads "
        "(.yaml, .yml, .json or .py)")
    folder = tmp_path / "ci.yaml"
    folder.mkdir()
    assert refused(run([*TOOL, "models.list"], home, root,
                       INVOKE_RUNTIME_CONFIG=str(folder))) == (
        f"error: invalid configuration: {folder}: cannot be read: Is a directory")

@pytest.mark.parametrize(("config", "said"), [
    ("models:\n  jobs: [1\n", "invalid configuration: FILE, line 3: not valid YAML"),
    ("models: [1, 2]\n", "invalid configuration: FILE: models: a mapping of settings is "
                         "expected"),
    ("test: {suite: 5}\n", "invalid option: suite: Input should be a valid string (in FILE)"),
])
def test_the_plugin_refuses_a_bad_file_as_a_pytest_usage_error(
    config: str, said: str, tmp_path: Path
) -> None:
    """`test: {suite: 5}` was an INTERNALERROR TypeError, exit 3, while the tasks refused it."""
    home, root, file = project(tmp_path, config)
    result = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--fetch-models"],
                 home, root / "tools/server/tests")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "INTERNALERROR" not in result.stdout + result.stderr
    assert f"ERROR: fetch-test-models: {said.replace('FILE', str(file))}" in result.stderr
