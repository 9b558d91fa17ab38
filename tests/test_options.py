"""The options as a user meets them: each task's `--help` (flags, letters, help texts), config
under flags, defaults, and the one-line message for a configuration mistake."""

from __future__ import annotations

import contextlib
import copy
import io
import os
import subprocess
from pathlib import Path

import pytest

from scanner.cli import options
from scanner.cli.declarations import ModelsOptions, TaskSwitches, config_defaults
from scanner.cli.declarations import TestOptions as ServerOptions
from scanner.cli.options import build_options, build_server_run, check_section
from scanner.cli.program import FetchTestModels
from scanner.cli.tasks import namespace
from scanner.errors import OptionsError
from tests.helpers import invoke_command

HELP = Path(__file__).parent / "task_help"
TASKS = ("models.list", "models.fetch", "models.lock", "models.prune", "test.server")


@pytest.mark.parametrize("task", TASKS)
def test_each_task_s_help_letter_for_letter(task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`fetch-test-models --help TASK` on an 80-column terminal, as tests/task_help/ holds it
    (a new option adds its flag there, and to the README)."""
    monkeypatch.setattr("invoke.program.pty_size", lambda: (80, 24))
    # Invoke takes the help texts out of a task the first time it shows them: a fresh copy
    program = FetchTestModels(namespace=copy.deepcopy(namespace), name="fetch-test-models",
                      binary="fetch-test-models", version="0")
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        program.run(["fetch-test-models", "--help", task], exit=False)
    assert shown.getvalue() == (HELP / f"{task}.txt").read_text()


def test_every_key_can_be_configured_and_none_is_set_by_default() -> None:
    assert config_defaults(ServerOptions) == {
        "suite": None, "offline": None, "slow": None, "fetch": None, "online": None,
        "workers": None, "keep_going": None, "python": None, "server_bin": None,
        "collect_timeout": None}
    assert set(config_defaults(ModelsOptions)) >= {"jobs", "mmproj", "verbosity", "backend"}


def test_the_server_options_are_no_test_class_for_pytest() -> None:
    assert ServerOptions.__test__ is False


def test_defaults() -> None:
    built = build_options({})
    models = built.models
    assert (models.jobs, models.connections, models.timeout, models.tries) == (4, 12, 10.0, 20)
    assert (models.verbosity, models.backend, models.mmproj, models.json) == (
        "normal", "native", True, False)
    assert (built.python, built.selection) == (None, None)
    assert built.root == Path.cwd().resolve()
    assert built.cache_dir is None
    assert TaskSwitches() == TaskSwitches(check=False, yes=False, unreferenced=False)


def test_the_suite_is_llama_cpp_s_where_it_exists_else_the_root(tmp_path: Path) -> None:
    """pytest runs a project that is not llama.cpp from its root, where its configuration is;
    the lock is kept there too."""
    (tmp_path / "llama/tools/server/tests").mkdir(parents=True)
    llama = build_options({}, root=str(tmp_path / "llama"))
    assert llama.suite == "tools/server/tests"
    assert llama.lock_path == llama.root / "tools/server/tests/models.lock"
    assert llama.scan.tests == ("tools/server/tests/**/*.py",)
    assert llama.scan.repo_names == ("hf_repo", "model_hf_repo")
    other = build_options({}, root=str(tmp_path))
    assert (other.suite, other.suite_dir, other.lock_path) == (
        ".", tmp_path, tmp_path / "models.lock")
    assert (other.scan.repo_names, other.scan.file_names) == ((), ()), \
        "llama.cpp's names are not another project's: selection asks pytest for none"
    configured = build_options({"tests": ["checks/**/*.py"]}, root=str(tmp_path))
    assert configured.suite == "tools/server/tests", "a configured glob keeps the suite as before"


def test_flags_win_over_config(tmp_path: Path) -> None:
    section = {"jobs": 2, "json": True, "cache_dir": "/from/config", "mmproj": True,
               "deny": ["org/a"], "tests": "a/*.py", "root": str(tmp_path)}
    built = build_options(section, jobs=8, json=False, cache_dir=None, deny=[], tests=(),
                          mmproj=False, suite="suite", python="/py", selection=["-k", "x"])
    models = built.models
    assert (models.jobs, models.json, models.cache_dir) == (8, True, "/from/config")
    assert (models.deny, models.tests, models.mmproj) == (["org/a"], "a/*.py", False)
    assert (built.suite, built.python, built.selection) == ("suite", "/py", ("-k", "x"))
    assert built.root == tmp_path and built.suite_dir == tmp_path / "suite"
    assert built.scan.deny == ("org/a",) and built.scan.tests == ("a/*.py",)
    assert build_options({}, selection=[]).selection == ()
    assert build_options({"mmproj": False}, mmproj=None).models.mmproj is False
    assert build_options({"json": False}, json=True, tests=["b/*.py"]).models.json is True


def test_a_boolean_flag_left_off_keeps_the_config_value() -> None:
    assert build_options({"offline": True}, offline=False).models.offline is True
    assert build_options({"mmproj": True}).models.mmproj is True


def test_no_urls_and_no_mmproj_switch_off_what_the_config_switches_on() -> None:
    built = build_options({"urls": True, "mmproj": True}, urls=False, mmproj=False)
    assert (built.models.urls, built.models.mmproj) == (False, False)
    assert build_options({"urls": False}, urls=None).models.urls is False


def test_a_url_destination_outside_the_suite_names_the_key() -> None:
    assert reason(lambda: build_options({"url_dest": "../{name}"})) == (
        "url_dest: '../{name}' must be a relative path inside the suite folder")
    assert reason(lambda: build_options({}, url_dest="models/{file}")) == (
        "url_dest: 'models/{file}' must hold {name} (the URL's file name) and no other "
        "placeholder")


def test_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    built = build_options({"cache_dir": "~/hub", "lock": "~/pins.lock", "root": "~/p"})
    assert built.cache_dir == tmp_path / "hub"
    assert built.root == tmp_path / "p"
    assert built.lock_path == tmp_path / "pins.lock"
    relative = build_options({"root": str(tmp_path), "lock": "ci/models.lock"})
    assert relative.lock_path == tmp_path / "ci/models.lock"


def test_a_missing_suite_folder(tmp_path: Path) -> None:
    built = build_options({"root": str(tmp_path)}, suite="tests/server")
    assert built.missing_suite() == (
        f"test suite folder {tmp_path / 'tests/server'} does not exist (without --root, the "
        "root is the nearest folder from the current one up that holds tests/server; set "
        "--root or --suite)")
    (tmp_path / "tests/server").mkdir(parents=True)
    assert built.missing_suite() is None


def test_a_selection_narrows_a_copy() -> None:
    built = build_options({})
    narrowed = built.with_selection(iter(["-m", "slow"]))
    assert narrowed.selection == ("-m", "slow") and built.selection is None
    assert narrowed.models is built.models


def reason(call: object) -> str:
    with pytest.raises(OptionsError) as raised:
        call()  # type: ignore[operator]
    return str(raised.value)


def test_configuration_mistakes_name_the_key() -> None:
    assert reason(lambda: build_options({"jbos": 3})) == (
        "models.jbos: unknown configuration key; did you mean 'jobs'?")
    assert reason(lambda: build_options({"zzzzqq": 3})) == (
        "models.zzzzqq: unknown configuration key")
    assert reason(lambda: build_options({"jobs": 99})) == (
        "jobs: Input should be less than or equal to 64")
    assert reason(lambda: build_options({}, jobs="abc", timeout=-1)) == (
        "jobs: Input should be a valid integer, unable to parse string as an integer; "
        "timeout: Input should be greater than 0")
    assert reason(lambda: build_options({"verbosity": "loud"})) == (
        "verbosity: Input should be 'quiet', 'normal' or 'verbose'")
    assert reason(lambda: build_options({"extra": [{"hf_file": "a.gguf"}]})) == (
        "extra: Field required")
    assert reason(lambda: check_section({"slwo": True})) == (
        "test.slwo: unknown configuration key; did you mean 'slow'?")
    assert reason(lambda: build_server_run({"wrokers": 2}, {}, [])) == (
        "test.wrokers: unknown configuration key; did you mean 'workers'?")
    assert reason(lambda: check_section({"workers": 0})) == (
        "workers: Input should be greater than or equal to 1; "
        "workers: Input should be 'auto' or 'logical'")
    check_section({"workers": "auto", "slow": True})


def test_a_mistake_repeated_by_several_union_members_is_said_once() -> None:
    assert reason(lambda: check_section({"server_bin": 3})) == (
        "server_bin: Input should be False; server_bin: Input should be a valid string")


def test_workers_flag_then_config_then_pytest_workers_then_four() -> None:
    env = {"PYTEST_WORKERS": "3"}
    assert build_server_run({}, {}, []).workers == 4
    assert build_server_run({}, {"PYTEST_WORKERS": ""}, []).workers == 4
    assert build_server_run({}, env, []).workers == 3
    assert build_server_run({"workers": 2}, env, []).workers == 2
    assert build_server_run({"workers": 2}, env, [], workers=5).workers == 5
    assert build_server_run({}, env, [], workers="auto").workers == "auto"
    assert build_server_run({}, env, [], workers=None).workers == 3


def test_pytest_workers_that_is_no_count_is_named() -> None:
    assert reason(lambda: build_server_run({}, {"PYTEST_WORKERS": "many"}, [])) == (
        "PYTEST_WORKERS='many': workers: Input should be a valid integer, unable to parse "
        "string as an integer; workers: Input should be 'auto' or 'logical'")
    assert reason(lambda: build_server_run({"workers": "x"}, {"PYTEST_WORKERS": "2"}, [])) == (
        "workers: Input should be a valid integer, unable to parse string as an integer; "
        "workers: Input should be 'auto' or 'logical'")


def test_a_server_run() -> None:
    run = build_server_run({"slow": True, "fetch": True}, {}, ["-k", "x"], fetch=False,
                           offline=True, suite="s")
    assert (run.test.slow, run.test.fetch, run.test.offline, run.test.suite) == (
        True, False, True, "s")
    assert run.pytest_args == ("-k", "x") and run.parallel()
    assert build_server_run({"fetch": False}, {}, []).test.fetch is False
    assert build_server_run({}, {}, []).test == ServerOptions()
    assert not build_server_run({}, {}, [], workers=1).parallel()
    assert build_server_run({}, {}, [], workers=2).parallel()
    assert build_server_run({}, {}, [], workers="logical").parallel()
    assert options.DEFAULT_WORKERS == 4


def test_the_collection_timeout_is_600_s_unless_set_and_a_bad_one_names_the_key() -> None:
    assert build_options({}).collect_timeout == 600
    assert build_options({}, collect_timeout="2.5").collect_timeout == 2.5  # as from INVOKE_TEST_*
    assert reason(lambda: build_options({}, collect_timeout="0")) == (
        "collect_timeout: Input should be greater than 0")
    assert reason(lambda: build_options({}, collect_timeout="soon")).startswith(
        "collect_timeout: Input should be a valid number")
    assert reason(lambda: build_options({}, collect_timeout="inf")) == (
        "collect_timeout: Input should be less than or equal to 86400")


def run_program(monkeypatch: pytest.MonkeyPatch, *argv: str) -> str:
    monkeypatch.setattr("invoke.program.pty_size", lambda: (100, 24))
    program = FetchTestModels(namespace=copy.deepcopy(namespace), name="fetch-test-models",
                              binary="fetch-test-models", version="0")
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        program.run(["fetch-test-models", *argv], exit=False)
    return " ".join(shown.getvalue().split())  # the words, however wrapped


def test_the_help_shows_the_tool_s_tasks_and_rule_and_only_the_invoke_flags_that_matter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = run_program(monkeypatch, "--help")
    assert text.startswith("Usage: fetch-test-models TASK [--options] [PYTEST ARGS]")
    assert ("every other word after the task goes to pytest, `--` or not: fetch-test-models "
            "test.server unit/test_basic.py -k start_simple -x") in text
    for shown in ("--help", "--list", "--version", "--config"):
        assert shown in text.split("Other options:")[1]
    for hidden in ("--pty", "--prompt-for-sudo-password", "--hide", "--echo", "--warn-only",
                   "--dry", "--command-timeout", "--write-pyc"):
        assert hidden not in text


@pytest.mark.parametrize("argv", [["--list"], ["--help"]])
def test_task_summaries_are_whole(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    text = run_program(monkeypatch, *argv)
    for task in TASKS:
        doc = namespace[task].__doc__ or ""
        assert " ".join(doc.split("\n\n")[0].split()) in text, task


def test_help_into_a_pipe_closed_early_is_no_traceback() -> None:
    """`fetch-test-models --help | head -3`: the reader goes before the help is written."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(invoke_command("--help"),
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120,
                              check=False)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (1, "")
