"""`test.server`: what llama.cpp's `tools/server/tests/tests.sh` runs, after `models.fetch` has
fetched exactly the models of the tests that run will select."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from collections.abc import Callable, Mapping

from ..errors import ExitCode, SetupError, nothing_selected
from ..llama.url_files import prepare_working_folders
from ..output import log
from ..output.outcomes import ServerTestsRun
from ..output.server_report import print_setup
from ..output.show import ShowAs, show
from ..selection.collect import run_environment
from ..selection.live import LiveRun
from ..selection.spawn import signal_group, start_pytest
from ..setup import preflight
from ..setup.preflight import ServerSetup
from . import launches
from .options import Options, ServerRun
from .preload import preload_fetch
from .stopping import Terminated, ending_on_signals, following
from .usage import usage_errors


def tests_sh_arguments(run: ServerRun, xdist_installed: bool) -> list[str]:
    """tests.sh: `--durations=30 [-n WORKERS --dist=worksteal]`, then the arguments given, or
    without any `-v -x` and `-m "not slow"` (dropped when slow tests are allowed)."""
    parallel = run.parallel() and xdist_installed
    workers = ["-n", str(run.workers), "--dist=worksteal"] if parallel else []
    if run.pytest_args:
        return ["--durations=30", *workers, *run.pytest_args]
    return ["--durations=30", "-v", "-x", *workers, *([] if run.test.slow else ["-m", "not slow"])]


@usage_errors("stopped by Ctrl-C before the tests ran")
def run_server_tests(options: Options, run: ServerRun,
                     env: Mapping[str, str] | None = None) -> int:
    """Fetch the selection's models (unless `run.test.fetch` is off), then pytest; pytest's code.
    What the run needs is checked first (exit 2, nothing fetched); Ctrl-C is exit 130; SIGTERM
    or SIGHUP end pytest and all it started, then the run (128 + the signal's number)."""
    env = os.environ if env is None else env
    try:
        with ending_on_signals():
            outcome = _run_server_tests(options, run, env)
    except Terminated as ended:
        log.error(f"terminated: {signal.Signals(ended.signum).name} ended the run, and pytest "
                  "with every process it started")
        return 128 + ended.signum
    return show(outcome, ShowAs(env=env))


def _run_server_tests(options: Options, run: ServerRun,
                      env: Mapping[str, str]) -> ServerTestsRun:
    folder = options.suite_dir
    missing = options.missing_suite()
    if missing:
        raise SetupError(missing)
    setup = _preflight(options, run, env)
    arguments = tests_sh_arguments(run, setup.xdist)
    pytest_line = shlex.join(["pytest", *arguments])
    run_env = run_environment(env, setup.cache, offline=run.test.offline, slow=run.test.slow)
    command = [str(setup.python.path), "-m", "pytest", *arguments]

    def say_setup() -> None:
        if not log.quiet():
            print_setup(setup, pytest_line, folder)
        if run.parallel() and not setup.xdist:
            log.note(f"note: pytest-xdist is not installed in {setup.python.path}: the tests "
                     "run in one process")
        log.note(f"running {shlex.join(command)} in {folder} (cache {setup.cache}"
                 f"{', offline' if run.test.offline else ''})")

    if run.test.fetch:
        return _fetch_then_test(options, run, setup.python, arguments, run_env, env,
                                pytest_line, say_setup)
    say_setup()
    prepare_working_folders(folder, options.models.url_dest)
    process = start_pytest(command, folder, run_env)
    with following(process):
        code, interrupted = _run_pytest(process)
    return ServerTestsRun(pytest_line, pytest_code=code, interrupted=interrupted)


def _preflight(options: Options, run: ServerRun, env: Mapping[str, str]) -> ServerSetup:
    """Every check of the user's setup that needs no collection, before the first request,
    all in one run (`preflight.server_setup`)."""
    hub = run.test.fetch and not run.test.offline
    return preflight.server_setup(
        options.python, env, options.root, options.suite_dir, run.test.server_bin,
        options.cache_dir, hub=hub)


def _fetch_then_test(options: Options, run: ServerRun, python: preflight.SuitePython,
                     arguments: list[str], run_env: Mapping[str, str],
                     env: Mapping[str, str], pytest_line: str,
                     say_setup: Callable[[], None]) -> ServerTestsRun:
    """One pytest run: it collects, waits while `models.fetch` brings what its tests need
    (the fetch's selection line, plan and summary), then runs them — or stops. A pytest the
    entry point started (`launches.py`) has printed its header already: the setup follows."""
    started = launches.take()
    if started is None:
        say_setup()
    names = (*options.scan.repo_names, *options.scan.file_names)
    live = LiveRun(python.path, arguments, options.suite_dir, run_env, names,
                   options.collect_timeout, early=started)
    if not live.adopted:
        launches.keep(live.launch, env)
    try:
        with following(live.process):
            return _fetch_for(live, options, run, python, env, pytest_line,
                              say_setup if started is not None else None)
    finally:
        live.close()


def _fetch_for(live: LiveRun, options: Options, run: ServerRun, python: preflight.SuitePython,
               env: Mapping[str, str], pytest_line: str,
               say_setup: Callable[[], None] | None) -> ServerTestsRun:
    """What `live` collected fetched, then its tests run, or it is stopped."""
    preloaded = preload_fetch()  # while pytest collects
    selection = live.selection(options.root)
    preloaded.join()
    if say_setup is not None:
        say_setup()
    if selection is None:  # it ended on its own: a usage error, or nothing to run
        if live.process.returncode == ExitCode.NO_TESTS:
            log.error(nothing_selected(pytest_line, options.suite_dir))
        return ServerTestsRun(pytest_line, pytest_code=live.process.returncode)
    if not selection.error and not selection.tests:  # all deselected: no fetch, no run
        live.stop(ExitCode.NO_TESTS)
        live.process.wait()
        log.error(nothing_selected(pytest_line, options.suite_dir))
        return ServerTestsRun(pytest_line, pytest_code=ExitCode.NO_TESTS)
    if selection.error:
        live.process.wait()
        raise SetupError(preflight.collection_error(python, selection.error,
                                                    selection.output, options.suite_dir))
    from .commands import select_then_fetch  # the scan and the fetch: imported meanwhile

    fetched = select_then_fetch(options.with_selection(live.arguments), env, selection,
                                offline=run.test.offline)
    code = fetched.code
    if code and (code == ExitCode.INTERRUPTED or not run.test.keep_going):
        if code != ExitCode.INTERRUPTED:  # the fetch said what it left
            log.error("not running the tests: the fetch failed (--keep-going runs them "
                      "anyway)")
        live.stop(code)
        live.process.wait()
        return ServerTestsRun(pytest_line, fetch_code=code)
    if code:
        log.note("note: the fetch failed; running the tests anyway (--keep-going)")
    tests_env = fetched.tests_env(online=run.test.online, offline=run.test.offline)
    pytest_code, interrupted = _run_pytest(live.process, go=lambda: live.go(tests_env))
    return ServerTestsRun(pytest_line, code, pytest_code, interrupted)


def _run_pytest(process: subprocess.Popen[bytes],
                go: Callable[[], None] | None = None) -> tuple[int, bool]:
    """pytest's exit code, and whether Ctrl-C stopped it: passed on to pytest's process group
    (from the terminal or sent to this process alone), which is left to stop its tests and
    print its summary (the run exits 130). A second Ctrl-C stops waiting for it. `go` lets a
    waiting pytest run its tests: called here, so that a Ctrl-C in the instant after it is
    one during the tests too (pytest may be running them already)."""
    interrupted = False
    while True:
        try:
            if go is not None:
                let_go, go = go, None
                let_go()
            code = process.wait()
            break
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = True
            signal_group(process, signal.SIGINT)
    return code, interrupted
