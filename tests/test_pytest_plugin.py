"""The pytest plugin, as people who run pytest or tests.sh directly use it: inert unless asked;
with `--fetch-models`, the selected tests' models are fetched before the first fixture (the
example suite's session fixture fails when a preset is not cached), once under xdist."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.downloads import wait_for
from tests.example_suite import copy_example, requested_repos, serve_example_repos
from tests.fakehub import FakeHub, Fault, GeneratedFile
from tests.helpers import write_suite

SUITE = "tools/server/tests"
BASIC_REPOS = {"ggml-org/models", "ggml-org/tinygemma3-GGUF", "ggml-org/test-model-stories260K"}


def pytest_in(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest as a developer runs it in the suite folder, with the tool installed."""
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("PYTEST_", "LLAMA_CACHE", "HF_HUB_CACHE"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=root / SUITE, env={**inherited, **env}, capture_output=True,
                          text=True, timeout=300)


def file_gets(hub: FakeHub) -> list[str]:
    return [r.path for r in hub.requests if r.kind == "resolve" and r.method == "GET"]


def test_without_the_flag_the_plugin_does_nothing_and_imports_nothing(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    root = copy_example(tmp_path)
    modules = tmp_path / "modules.json"
    conftest = root / SUITE / "conftest.py"
    conftest.write_text(conftest.read_text() + (
        "\n\ndef pytest_sessionfinish(session):\n"
        "    import json, sys\n"
        f"    open({str(modules)!r}, 'w').write(json.dumps(sorted(sys.modules)))\n"))
    run = pytest_in(root, "unit/test_basic.py")
    assert run.returncode == 1, "the presets are not cached: the suite's own fixture fails"
    assert fake_hub.requests == []
    assert "tests selected" not in run.stdout and "to download:" not in run.stdout
    loaded = {m for m in json.loads(modules.read_text())
              if m.startswith(("scanner", "huggingface_hub", "httpx", "invoke", "pydantic"))}
    assert loaded == {"scanner", "scanner.cli", "scanner.cli.pytest_plugin"}


@pytest.mark.parametrize("switch", ["flag", "environment", "ini"])
def test_the_selected_tests_models_are_fetched_before_the_first_fixture(
    switch: str, fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    args, env = ["unit/test_basic.py"], {}
    if switch == "flag":
        args.insert(0, "--fetch-models")
    elif switch == "environment":
        env["FETCH_TEST_MODELS"] = "1"
    else:
        ini = root / SUITE / "pytest.ini"
        ini.write_text(ini.read_text() + "fetch_models = true\n")
    run = pytest_in(root, *args, **env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 tests selected, 5 of 17 models" in run.stdout
    assert "3 passed" in run.stdout
    assert run.stdout.index("5 models: 5 downloaded") < run.stdout.index("3 passed")
    assert requested_repos(fake_hub) == BASIC_REPOS


@pytest.mark.slow
def test_under_xdist_the_controller_fetches_once_before_any_worker_runs_a_test(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    run = pytest_in(root, "--fetch-models", "-n", "2", "-m", "not slow")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tests selected" in run.stdout and "downloaded" in run.stdout, "on the controller"
    gets = file_gets(fake_hub)
    assert len(gets) == len(set(gets)), "each file once"
    trees = [r.path for r in fake_hub.requests if r.kind == "tree"]
    assert len(trees) == len(set(trees)), "each repo listed once"
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_a_model_that_fails_stops_the_session_before_any_test(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    fake_hub.add_repo("ggml-org/tinygemma3-GGUF", {"other.bin": GeneratedFile(10)})
    root = copy_example(tmp_path)
    run = pytest_in(root, "--fetch-models", "unit/test_basic.py")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAILED ggml-org/tinygemma3-GGUF:Q8_0" in run.stdout
    assert "the fetch failed, so no test ran" in run.stdout + run.stderr
    assert "passed" not in run.stdout
    kept = pytest_in(root, "--fetch-models", "--fetch-models-keep-going", "unit/test_basic.py")
    assert "3 error" in kept.stdout or "errors" in kept.stdout, "the tests ran, and failed"


def test_offline_and_locked_runs_make_no_request_on_a_warm_cache(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    assert pytest_in(root, "--fetch-models", "unit/test_basic.py").returncode == 0
    locked = subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(Path(__file__).parent.parent), "models.lock",
         "--root", str(root), "--", "unit/test_basic.py"], capture_output=True, text=True,
        timeout=300)
    assert locked.returncode == 0, locked.stdout + locked.stderr
    fake_hub.requests.clear()
    for env in ({"HF_HUB_OFFLINE": "1"}, {"INVOKE_MODELS_LOCKED": "1"}):
        run = pytest_in(root, "--fetch-models", "unit/test_basic.py", **env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "3 passed" in run.stdout
    assert fake_hub.requests == []


def test_tests_sh_with_pytest_addopts_fetches_first(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    path = f"{Path(sys.executable).parent}{os.pathsep}{inherited.get('PATH', '')}"
    run = subprocess.run(["bash", "tests.sh", "unit/test_basic.py"], cwd=root / SUITE,
                         env={**inherited, "PATH": path, "PYTEST_WORKERS": "1",
                              "PYTEST_ADDOPTS": "--fetch-models -p no:cacheprovider"},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout and "5 models: 5 downloaded" in run.stdout


PROBE = "import os\n" + "".join(f"""
def test_llama_server_env_{i}():
    assert os.environ.get("LLAMA_ARG_OFFLINE", "") == os.environ["EXPECT_LLAMA_OFFLINE"]
""" for i in range(4)) + """
def test_an_xdist_worker_loads_only_the_plugins_light_part():
    import sys
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the controller alone reads the options
        assert not {"scanner.cli.pytest_fetch", "invoke", "pydantic"} & set(sys.modules)
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_after_a_complete_fetch_llama_server_runs_offline_in_every_test_process(
    workers: list[str], fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    (root / SUITE / "unit/test_env_probe.py").write_text(PROBE)
    args = ["--fetch-models", *workers, "unit/test_basic.py", "unit/test_env_probe.py"]
    run = pytest_in(root, *args, EXPECT_LLAMA_OFFLINE="1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert ("llama-server runs offline (LLAMA_ARG_OFFLINE=1; INVOKE_TEST_ONLINE=1 keeps it "
            "online)") in run.stdout and "--online" not in run.stdout  # pytest has no --online
    online = pytest_in(root, *args, EXPECT_LLAMA_OFFLINE="", INVOKE_TEST_ONLINE="1")
    assert online.returncode == 0, online.stdout + online.stderr
    assert "runs offline" not in online.stdout


def test_without_the_capture_plugin_the_fetch_runs_and_prints(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """`-p no:capture` leaves pytest without a capture manager to suspend (it was an
    INTERNALERROR AttributeError)."""
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    run = pytest_in(root, "-p", "no:capture", "--fetch-models", "unit/test_basic.py")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "INTERNALERROR" not in run.stdout + run.stderr
    assert "5 models: 5 downloaded" in run.stdout and "3 passed" in run.stdout


@pytest.mark.parametrize("switch", [{"FETCH_TEST_MODELS": "1"},
                                    {"PYTEST_ADDOPTS": "--fetch-models"}])
def test_in_a_test_server_run_the_plugin_stands_down(
    switch: dict[str, str], fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """test.server fetches for the pytest it runs: the plugin, switched on in its environment,
    adds no second fetch (each repo was listed twice, the plan printed twice)."""
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("PYTEST_", "LLAMA_CACHE", "HF_HUB_CACHE"))}
    run = subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(Path(__file__).parent.parent), "test.server",
         "--root", str(root), "--workers", "1", "--", "-p", "no:cacheprovider",
         "unit/test_basic.py"], env={**inherited, **switch}, capture_output=True, text=True,
        timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("to download:") == 1 and "3 passed" in run.stdout
    trees = [r.path for r in fake_hub.requests if r.kind == "tree"]
    assert sorted(trees) == sorted(set(trees)) and len(trees) == len(BASIC_REPOS)


def pytest_started(root: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """`pytest_in`, started: Python's own Ctrl-C handler installed (a background job starts
    ignoring SIGINT, which its children would inherit)."""
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("PYTEST_", "LLAMA_CACHE", "HF_HUB_CACHE"))}
    return subprocess.Popen(
        [sys.executable, "-c", "import signal, sys, pytest\n"
         "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
         "sys.exit(pytest.main(sys.argv[1:]))", "-p", "no:cacheprovider", *args],
        cwd=root / SUITE, env={**inherited, **env}, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)


def test_ctrl_c_during_the_fetch_ends_the_session_with_130_even_with_keep_going(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(200_000, 1)})
    hold = Fault("hold", after=65536)
    fake_hub.add_fault("/resolve/", hold, times=None)
    ran = tmp_path / "ran"
    root = write_suite(tmp_path / "p", f"""\
        import types
        def test_a():
            types.SimpleNamespace().model_hf_repo = "org/a"
            open({str(ran)!r}, "w").close()
    """)
    run = pytest_started(root, "--fetch-models", "--fetch-models-keep-going")
    try:
        wait_for(lambda: fake_hub.count("GET", "resolve"), "the download", timeout=120)
        run.send_signal(signal.SIGINT)
        out, _ = run.communicate(timeout=60)
    finally:
        hold.release.set()
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, out
    assert "interrupted" in out and "Traceback" not in out
    assert not ran.exists(), "no test ran after Ctrl-C"


@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_a_module_that_fails_to_collect_stops_the_run_before_any_fetch_under_xdist_too(
    workers: list[str], fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(1_000, 1)})
    ran = tmp_path / "ran"
    root = write_suite(tmp_path / "p", f"""\
        import types
        def test_a():
            types.SimpleNamespace().model_hf_repo = "org/a"
            open({str(ran)!r}, "w").close()
    """)
    write_suite(root, "raise ImportError('broken on purpose')\n", "test_broken.py")
    run = pytest_in(root, "--fetch-models", *workers)
    out = run.stdout + run.stderr
    assert run.returncode == 2, out
    assert "broken on purpose" in out
    assert "fetch-test-models: pytest could not collect every test (1 error): nothing " \
           "fetched, no test runs" in out
    assert fake_hub.requests == [] and not ran.exists()
    kept = pytest_in(root, "--fetch-models", "--continue-on-collection-errors", *workers)
    assert "pytest could not collect every test (1 error): fetching for those it collected" \
           in kept.stdout, kept.stdout + kept.stderr
    assert fake_hub.count("GET", "resolve") == 1 and ran.exists()


@pytest.mark.parametrize(("value", "online"), [("1", True), ("true", True), ("0", False),
                                               ("false", False)])
def test_invoke_test_online_is_read_as_test_server_reads_it(
    value: str, online: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.cli.pytest_fetch import plugin_options

    monkeypatch.setenv("INVOKE_TEST_ONLINE", value)
    assert plugin_options(tmp_path)[1] is online
