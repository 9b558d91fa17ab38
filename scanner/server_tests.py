"""`test.server`: what llama.cpp's `tools/server/tests/tests.sh` runs, after `models.fetch` has
fetched exactly the models of the tests that run will select."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from . import environment, preflight
from .commands import check_setup, endpoint_host, fetch_models, select_for
from .errors import ExitCode, OptionsError, SetupError
from .options import Options, ServerRun
from .output.server_report import print_setup
from .output.step_summary import append_step_summary, tests_markdown
from .preflight import ServerSetup
from .scan.suite import NoTestFiles, scan_suite
from .selection.collect import run_environment
from .url_files import prepare_working_folders


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
    What the run needs is checked first (exit 2, nothing fetched); Ctrl-C is exit 130."""
    env = os.environ if env is None else env
    try:
        return _run_server_tests(options, run, env)
    except (OptionsError, SetupError, NoTestFiles) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print("interrupted: stopped by Ctrl-C before the tests ran", file=sys.stderr)
        return ExitCode.INTERRUPTED


def _run_server_tests(options: Options, run: ServerRun, env: Mapping[str, str]) -> int:
    folder = options.suite_dir
    missing = options.missing_suite()
    if missing:
        raise SetupError(missing)
    setup = _preflight(options, run, env)
    arguments = tests_sh_arguments(run, setup.xdist)
    print_setup(setup, shlex.join(["pytest", *arguments]), folder)
    if run.parallel() and not setup.xdist:
        print(f"note: pytest-xdist is not installed in {setup.python.path}: the tests run in "
              "one process", flush=True)
    if setup.selected is not None:
        code = fetch_models(options, env, setup.selected)
        if code == ExitCode.INTERRUPTED:  # the fetch said what it left
            return code
        if code and not run.test.keep_going:
            print("not running the tests: the fetch failed (--keep-going runs them anyway)",
                  file=sys.stderr)
            return code
        if code:
            print("note: the fetch failed; running the tests anyway (--keep-going)", flush=True)
    prepare_working_folders(folder, options.models.url_dest)
    run_env = run_environment(env, setup.cache, offline=run.test.offline, slow=run.test.slow)
    command = [str(setup.python.path), "-m", "pytest", *arguments]
    print(f"running {shlex.join(command)} in {folder} (cache {setup.cache}"
          f"{', offline' if run.test.offline else ''})", flush=True)
    code = _run_pytest(command, folder, run_env)
    append_step_summary(env, tests_markdown(shlex.join(["pytest", *arguments]), code))
    return code


def _preflight(options: Options, run: ServerRun, env: Mapping[str, str]) -> ServerSetup:
    """Every check of the user's setup, before the first Hub request: the interpreter (and, by
    collecting the selection with it, the suite's requirements), the settings, llama-server."""
    python = preflight.suite_python(options.python, env, options.root)
    fetching = run.test.fetch
    check_setup(options, env, hub=fetching and not run.test.offline)
    binary = preflight.server_binary(run.test.server_bin, env, options.root, options.suite_dir)
    version = preflight.server_version(binary, env, options.root) if binary else None
    selected = None
    if fetching:  # collected without xdist's flags: they depend on what that interpreter has
        selecting = options.with_selection(tests_sh_arguments(run, xdist_installed=False))
        scan = scan_suite(selecting.root, selecting.scan, endpoint_host(env))
        selected = select_for(selecting, scan, env, offline=run.test.offline,
                              slow=run.test.slow, python=python, for_tests=True)
        assert selected is not None  # a selection was given
        pytest_version, xdist = selected.selection.pytest_version, selected.selection.xdist
    else:
        pytest_version, xdist = preflight.probe_pytest(python)
    cache = environment.cache_dir(env, options.cache_dir)
    return ServerSetup(
        python=python, pytest_version=pytest_version or "?", xdist=xdist, server=binary,
        server_version=version, cache=cache, free_bytes=preflight.free_bytes(cache),
        endpoint=None if run.test.offline or not fetching else environment.endpoint(env),
        token_set=environment.token(env) is not None, selected=selected)


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
