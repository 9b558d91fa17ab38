"""`test.server`: what llama.cpp's `tools/server/tests/tests.sh` runs, after `models.fetch` has
fetched exactly the models of the tests that run will select."""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from . import environment
from .commands import check_setup, fetch_models, scan_selected
from .errors import ExitCode, OptionsError
from .options import Options, ServerRun
from .output.step_summary import append_step_summary, tests_markdown
from .scan.suite import NoTestFiles
from .selection.collect import run_environment


def tests_sh_arguments(run: ServerRun, xdist_installed: bool) -> list[str]:
    """tests.sh: `--durations=30 [-n WORKERS --dist=worksteal]`, then the arguments given, or
    without any `-v -x` and `-m "not slow"` (dropped when slow tests are allowed)."""
    parallel = run.parallel() and xdist_installed
    workers = ["-n", str(run.workers), "--dist=worksteal"] if parallel else []
    if run.pytest_args:
        return ["--durations=30", *workers, *run.pytest_args]
    return ["--durations=30", "-v", "-x", *workers, *([] if run.test.slow else ["-m", "not slow"])]


def run_server_tests(options: Options, run: ServerRun,
                     env: Mapping[str, str] | None = None) -> int:
    """Fetch the selection's models (unless `run.test.fetch` is off), then pytest; pytest's code.
    A bad setting is exit 2 before anything runs; Ctrl-C in any phase is exit 130."""
    env = os.environ if env is None else env
    try:
        return _run_server_tests(options, run, env)
    except OptionsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print("interrupted: stopped by Ctrl-C before the tests ran", file=sys.stderr)
        return ExitCode.INTERRUPTED


def _run_server_tests(options: Options, run: ServerRun, env: Mapping[str, str]) -> int:
    folder = options.suite_dir
    missing = options.missing_suite()
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return ExitCode.USAGE
    check_setup(options, env, hub=run.test.fetch and not run.test.offline)
    xdist = importlib.util.find_spec("xdist") is not None
    if run.parallel() and not xdist:
        print("note: pytest-xdist is not installed: the tests run in one process", flush=True)
    arguments = tests_sh_arguments(run, xdist)
    print(f"test.server: pytest {shlex.join(arguments)} in {folder}", flush=True)
    if run.test.fetch:
        code = _fetch_selection(options.with_selection(arguments), run, env)
        if code == ExitCode.INTERRUPTED:  # the fetch said what it left
            return code
        if code and not run.test.keep_going:
            print("not running the tests: the fetch failed (--keep-going runs them anyway)",
                  file=sys.stderr)
            return code
        if code:
            print("note: the fetch failed; running the tests anyway (--keep-going)", flush=True)
    cache = environment.cache_dir(env, options.cache_dir)
    run_env = run_environment(env, cache, offline=run.test.offline, slow=run.test.slow)
    command = [sys.executable, "-m", "pytest", *arguments]
    print(f"running {shlex.join(command[1:])} in {folder} (cache {cache}"
          f"{', offline' if run.test.offline else ''})", flush=True)
    code = _run_pytest(command, folder, run_env)
    append_step_summary(env, tests_markdown(shlex.join(["pytest", *arguments]), code))
    return code


def _run_pytest(command: list[str], folder: Path, env: Mapping[str, str]) -> int:
    """pytest's exit code; on Ctrl-C (which reaches pytest too, from the terminal) pytest is
    left to stop its tests and print its summary, then the run exits 130."""
    process = subprocess.Popen(command, cwd=folder, env=env)
    interrupted = False
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:
            if interrupted:  # a second Ctrl-C: stop waiting for pytest's own shutdown
                process.kill()
                process.wait()
                raise
            interrupted = True  # pytest, in the terminal's process group, got it too
    if interrupted:
        print("interrupted: the tests stopped (pytest's summary above)", file=sys.stderr)
        return ExitCode.INTERRUPTED
    return code


def _fetch_selection(options: Options, run: ServerRun, env: Mapping[str, str]) -> int:
    """`models.fetch` for the tests this run selects: pytest collects them once, here."""
    try:
        _, selected = scan_selected(options, env, offline=run.test.offline, slow=run.test.slow)
    except NoTestFiles as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    assert selected is not None  # options.selection is set; the fetch prints its summary
    return fetch_models(options, env, selected)
