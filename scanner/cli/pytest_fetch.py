"""What the pytest plugin (`pytest_plugin.py`) does once switched on: after pytest's
collection and deselection, join the items with the static scan and run `models.fetch` for
them, on the terminal, before the first test. Under pytest-xdist the controller fetches once,
from what the first worker collected, before it hands out any test; the workers only report
(`pytest_worker.py`; the hand-off is the selection plugin's:
`selection/standalone/fetch_test_models_xdist.py`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ..errors import ExitCode, NoTestFiles, OptionsError
from ..models import ScanResult
from ..selection.collect import collection_hung, selection_from
from ..selection.standalone import fetch_test_models_xdist as handoff
from ..selection.standalone.fetch_test_models_selection import selection_document
from ..setup import environment
from .config_files import ConfigFileError
from .options import Options, check_section
from .preload import preload_fetch
from .pytest_worker import ERRORS_KEY, WORKER_KEY

#: What keeps llama-server online under the plugin (`test.online`; pytest has no --online).
ONLINE_SWITCH = "INVOKE_TEST_ONLINE=1"


def register(config: pytest.Config) -> None:
    """The controller's part (a run without xdist is its own controller)."""
    config.pluginmanager.register(_Fetcher(config), "fetch-test-models")


def plugin_options(rootpath: Path) -> tuple[Options, bool]:
    """The `models:` and `test:` configuration as the tasks read it, with their loader
    (Invoke's system and user files, `INVOKE_RUNTIME_CONFIG`, `INVOKE_*` variables), rooted
    where this suite sits: the folder above pytest's rootdir when that is the configured suite
    (`tools/server/tests` of a llama.cpp checkout), else the rootdir itself. With
    `test.online`, whether llama-server stays online after a complete fetch. A bad value is an
    OptionsError naming where it was set; a file Invoke cannot use, a ConfigFileError."""
    from .config_files import load_config, options_from, refused_names_its_source, runtime_file
    from .tasks import namespace

    # pytest's command line is no Invoke one: the runtime file is INVOKE_RUNTIME_CONFIG's
    config = load_config(runtime_file([]), None, namespace.configuration())
    with refused_names_its_source(config):
        test = check_section(config.test)
    suite = Path(test.suite)
    root, suite_name = rootpath, "."
    if rootpath.parts[-len(suite.parts):] == suite.parts and suite.parts:
        root, suite_name = rootpath.parents[len(suite.parts) - 1], str(suite)
    # the tests run offline (HF_HUB_OFFLINE): so does their fetch, a check
    offline = environment.offline(os.environ) or None
    return (options_from(config, check_test=False, suite=suite_name,
                         root=config.models.root or str(root), offline=offline), test.online)


def _uncaptured(config: pytest.Config) -> contextlib.AbstractContextManager[Any]:
    """Output straight to the terminal: pytest's capture suspended, or nothing to suspend
    (`-p no:capture` leaves no capture manager)."""
    capture = config.pluginmanager.getplugin("capturemanager")
    return capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()


class _Fetcher:
    """The controller: one fetch for the run, before its first test."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.monotonic()
        try:
            self.options, self.online = plugin_options(config.rootpath)
        except OptionsError as exc:
            raise pytest.UsageError(f"fetch-test-models: invalid option: {exc}") from exc
        except ConfigFileError as exc:
            raise pytest.UsageError(f"fetch-test-models: invalid configuration: {exc.detail}"
                                    ) from exc
        self.names = [*self.options.scan.repo_names, *self.options.scan.file_names]
        # The tests must look where the models go (llama.cpp's suite would use ./tmp).
        cache = str(environment.cache_dir(os.environ, self.options.cache_dir))
        os.environ.setdefault("LLAMA_CACHE", cache)
        os.environ.setdefault("HF_HUB_CACHE", os.environ["LLAMA_CACHE"])
        self.scratch = tempfile.TemporaryDirectory(prefix="ftm-plugin-")
        self.worker_file = Path(self.scratch.name) / "selection.json"
        self.fetched = False
        self.hung = threading.Timer(self.options.collect_timeout, self._collection_hung)
        self.hung.daemon = True
        self.preloaded: threading.Thread | None = None
        self.user_env = dict(os.environ)  # what the fetch reads: not the switches set early
        self.early_env: dict[str, str] = {}
        self.suite: ScanResult | None = None
        self.early_file = Path(self.scratch.name) / "early-env.json"
        self.predicted = threading.Thread(target=self._predict, name="offline-early",
                                          daemon=True)
        self.keep_going = bool(config.getoption("fetch_models_keep_going")
                               or config.getini("fetch_models_keep_going"))
        if self.online or self.options.models.offline or self.keep_going:
            handoff.write_document(str(self.early_file), {})  # tests may run after a failure
        else:
            self.predicted.start()

    def _predict(self) -> None:
        """The offline switches the tests get before they are collected, found while pytest
        starts, or its xdist workers do (`commands.offline_from_the_start`); none when the scan
        fails."""
        from .commands import offline_from_the_start
        from .selected import suite_scan

        try:
            self.suite = suite_scan(self.options, self.user_env)  # the fetch's too
            self.early_env = offline_from_the_start(self.options, self.user_env, self.suite)
        except Exception:  # the fetch after the collection says what failed
            self.early_env = {}
        finally:
            handoff.write_document(str(self.early_file), self.early_env)

    def _join_prediction(self) -> None:
        if self.predicted.ident is not None:  # started
            self.predicted.join()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self) -> None:
        """Before the test modules are imported here (a run without xdist)."""
        self._join_prediction()
        os.environ.update(self.early_env)

    def pytest_unconfigure(self) -> None:
        self.hung.cancel()
        self._join_prediction()  # it writes in the scratch folder
        self.scratch.cleanup()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self._collected_whole(session.testsfailed, xdist=False):
            self._fetch(selection_document(session, self.names))

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_KEY] = str(self.worker_file)
        node.workerinput[WORKER_KEY + "_names"] = self.names
        node.workerinput[WORKER_KEY + "_early"] = str(self.early_file)
        node.workerinput[WORKER_KEY + "_timeout"] = self.options.collect_timeout

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_setupnodes(self) -> None:
        """The controller waits for its workers' collection: at most `test.collect_timeout`,
        as test.server waits for pytest's. Meanwhile this process imports what its fetch
        runs on."""
        self.hung.start()
        self.preloaded = preload_fetch()

    def _collection_hung(self) -> None:
        """The workers' collection outlasted the timeout: said, then the session is stopped
        as Ctrl-C stops it (xdist then ends its workers). A signal, not an exception set on
        the main thread, so that a wait that blocks in the kernel ends too."""
        self._say(f"fetch-test-models: {collection_hung(self.options.collect_timeout)}; the "
                  "session stops as on Ctrl-C")
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Any) -> None:
        self.hung.cancel()
        document = None if self.fetched else handoff.read_document(str(self.worker_file))
        if document is None:
            return
        if self._collected_whole(document.pop(ERRORS_KEY, 0), xdist=True):
            self._fetch(document)

    def _collected_whole(self, errors: int, *, xdist: bool) -> bool:
        """Whether to fetch: collection errors stop the run before any test, as pytest does
        (`pytest_runtestloop`), unless `--continue-on-collection-errors`. xdist runs the tests
        that did collect: its controller is stopped here, so that both runs end alike."""
        if not errors:
            return True
        counted = f"{errors} error{'s' if errors > 1 else ''}"
        if self.config.option.continue_on_collection_errors:
            self._say(f"fetch-test-models: pytest could not collect every test ({counted}): "
                      "fetching for those it collected (--continue-on-collection-errors)")
            return True
        self.fetched = True
        self._say(f"fetch-test-models: pytest could not collect every test ({counted}): "
                  "nothing fetched, no test runs")
        if xdist:
            pytest.exit(f"{counted} during collection", returncode=pytest.ExitCode.INTERRUPTED)
        return False

    def _say(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)

    def _add_env(self, added: dict[str, str]) -> None:
        """This process's tests get `added` now; an xdist worker's, before its first test."""
        os.environ.update(added)
        handoff.add_env(str(self.worker_file), added)

    def _fetch(self, document: dict[str, Any]) -> None:
        self.fetched = True
        self._join_prediction()  # its scan is the fetch's
        if self.preloaded is not None:
            self.preloaded.join()
        if not document["items"]:  # pytest says "no tests ran" (exit 5): nothing to fetch
            return
        options = self.options
        arguments = self.config.invocation_params.args
        selection = selection_from(document, options.root, arguments,
                                   time.monotonic() - self.started)
        with _uncaptured(self.config):
            print(flush=True)
            from .commands import select_then_fetch  # preloaded while the workers collected

            try:
                fetched = select_then_fetch(options.with_selection(arguments), self.user_env,
                                            selection, suite=self.suite)
            except NoTestFiles as exc:
                pytest.exit(f"fetch-test-models: {exc}", returncode=ExitCode.USAGE)
            code = fetched.code
            hub_cache = environment.hub_cache_apart(self.user_env, options.cache_dir)
            self._add_env(fetched.tests_env(online=self.online, offline=options.models.offline,
                                            switch=ONLINE_SWITCH, hub_cache=hub_cache))
        if code == ExitCode.INTERRUPTED:  # Ctrl-C ends the session, keep-going or not
            pytest.exit("fetch-test-models: stopped by Ctrl-C, so no test ran",
                        returncode=ExitCode.INTERRUPTED)
        if code and not self.keep_going:
            pytest.exit("fetch-test-models: the fetch failed, so no test ran "
                        "(--fetch-models-keep-going runs them anyway)", returncode=code)
