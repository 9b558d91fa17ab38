"""`invoke test.server`: fetch for the selected tests, then pytest in the suite on the same
cache, with tests.sh's command line (the selection itself is tested in test_selection.py)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from scanner.cli import server_tests as server_run
from scanner.cli.options import build_server_run
from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import invoke_command, write_suite

# The suite under test checks, from inside pytest, what the server tests would rely on.
SUITE = '''
import os
from pathlib import Path

class Server:
    model_hf_repo = None
    model_hf_file = None

def lookup(repo, path):
    folder = Path(os.environ["LLAMA_CACHE"]) / ("models--" + repo.replace("/", "--"))
    commit = (folder / "refs" / "main").read_text()
    return folder / "snapshots" / commit / path

def test_model_is_cached():
    server = Server()
    server.model_hf_repo = "ggml-org/models"
    server.model_hf_file = "tinyllamas/stories260K.gguf"
    assert lookup(server.model_hf_repo, server.model_hf_file).stat().st_size == 2000

def test_environment():
    assert os.environ["HF_HUB_CACHE"] == os.environ["LLAMA_CACHE"]
    assert os.environ.get("LLAMA_ARG_OFFLINE") == os.environ.get("EXPECT_OFFLINE")
    assert os.environ.get("HF_HUB_OFFLINE") == os.environ.get("EXPECT_OFFLINE")
    assert os.environ.get("TRANSFORMERS_OFFLINE") == os.environ.get("EXPECT_OFFLINE")
    assert os.environ.get("SLOW_TESTS") == os.environ.get("EXPECT_SLOW")
'''


def invoke(root: Path, cache: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, LLAMA_CACHE=str(cache), PYTEST_WORKERS="1", **env)
    return subprocess.run(invoke_command(*args), cwd=root, env=full_env, capture_output=True,
                          text=True, timeout=180)


def test_fetch_then_offline_tests_with_passthrough_args(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    fake_hub.add_repo("ggml-org/models", {"tinyllamas/stories260K.gguf": GeneratedFile(2000)})
    root, cache = write_suite(tmp_path / "proj", SUITE, "test_suite.py"), tmp_path / "cache"
    run = invoke(root, cache, "test.server", "--offline", "--slow", "--", "-v", "-p",
                 "no:cacheprovider", EXPECT_OFFLINE="1", EXPECT_SLOW="1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 models: 1 downloaded" in run.stdout
    assert "test_model_is_cached PASSED" in run.stdout, "-v reached pytest"
    assert "2 passed" in run.stdout
    assert fake_hub.count("GET", "resolve") == 1


def test_pytest_exit_code_propagates_and_fetch_can_be_skipped(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    fake_hub.add_repo("ggml-org/models", {"tinyllamas/stories260K.gguf": GeneratedFile(2000)})
    failing = SUITE + "def test_fails():\n    assert False\n"
    root = write_suite(tmp_path / "proj", failing, "test_suite.py")
    cache = tmp_path / "cache"
    run = invoke(root, cache, "test.server", "--", "-k", "fails or cached")
    assert run.returncode == 1
    assert "1 failed, 1 passed, 1 deselected" in run.stdout
    for no_fetch in (["--no-fetch"], []):
        fake_hub.reset_counts()
        run = invoke(root, cache, "test.server", *no_fetch, "--", "-k", "cached",
                     INVOKE_TEST_FETCH="1" if no_fetch else "0")
        assert run.returncode == 0, run.stdout + run.stderr
        assert fake_hub.count() == 0, "no fetch: not even a listing request"
        assert "1 passed, 2 deselected" in run.stdout
        assert "fetching" not in run.stdout


def test_failed_fetch_stops_before_pytest(fake_hub: FakeHub, hub_env: Path,
                                          tmp_path: Path) -> None:
    root = write_suite(tmp_path / "proj", SUITE, "test_suite.py")
    run = invoke(root, tmp_path / "cache", "test.server")
    assert run.returncode == 1
    assert "FAILED ggml-org/models tinyllamas/stories260K.gguf" in run.stdout
    assert "needed by: tools/server/tests/test_suite.py:" in run.stdout
    assert "no tests ran" in run.stdout and "passed" not in run.stdout
    assert "not running the tests: the fetch failed" in run.stderr


def test_keep_going_runs_the_tests_after_a_failed_fetch(fake_hub: FakeHub, hub_env: Path,
                                                        tmp_path: Path) -> None:
    root = write_suite(tmp_path / "proj", SUITE, "test_suite.py")
    run = invoke(root, tmp_path / "cache", "test.server", "--keep-going", "--", "-k",
                 "cached or environment")
    assert run.returncode == 1, "pytest's exit code: the test that needs the model failed"
    assert "FAILED ggml-org/models tinyllamas/stories260K.gguf" in run.stdout
    assert "note: the fetch failed; running the tests anyway (--keep-going)" in run.stdout
    assert "1 failed, 1 passed" in run.stdout


def test_relative_cache_dir_reaches_the_tests_as_an_absolute_path(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    fake_hub.add_repo("ggml-org/models", {"tinyllamas/stories260K.gguf": GeneratedFile(2000)})
    root = write_suite(tmp_path / "proj", SUITE, "test_suite.py")
    run = invoke(root, Path("rel-cache"), "test.server", "--", "-k", "cached")
    assert run.returncode == 0, run.stdout + run.stderr
    assert (root / "rel-cache").is_dir(), "the fetch filled the cache relative to where it ran"
    assert f"(cache {root / 'rel-cache'}" in run.stdout


@pytest.mark.parametrize(("args", "slow", "workers", "xdist", "expected"), [
    ([], False, "4", True, "--durations=30 -v -x -n 4 --dist=worksteal -m 'not slow'"),
    ([], True, "4", True, "--durations=30 -v -x -n 4 --dist=worksteal"),
    ([], False, "1", True, "--durations=30 -v -x -m 'not slow'"),
    ([], False, "auto", True, "--durations=30 -v -x -n auto --dist=worksteal -m 'not slow'"),
    ([], False, "4", False, "--durations=30 -v -x -m 'not slow'"),
    (["-k", "a or b"], True, "2", True, "--durations=30 -n 2 --dist=worksteal -k 'a or b'"),
])
def test_pytest_arguments_are_tests_sh_s(args: list[str], slow: bool, workers: str,
                                         xdist: bool, expected: str) -> None:
    run = build_server_run({}, {"PYTEST_WORKERS": workers}, args, slow=slow)
    assert shlex.join(server_run.tests_sh_arguments(run, xdist)) == expected


def test_workers_flag_wins_and_a_bad_value_is_a_usage_error(tmp_path: Path) -> None:
    run = build_server_run({"workers": 3}, {"PYTEST_WORKERS": "8"}, [], workers="2")
    assert run.workers == 2
    assert build_server_run({"workers": 3}, {"PYTEST_WORKERS": "8"}, []).workers == 3
    root = write_suite(tmp_path / "proj", SUITE, "test_suite.py")
    bad = invoke(root, tmp_path / "cache", "test.server", "--no-fetch", "--workers", "many")
    assert (bad.returncode, "Traceback" in bad.stderr) == (2, False)
    assert "error: invalid option: workers" in bad.stderr


def test_ci_step_summary_gets_the_fetch_and_the_test_run(fake_hub: FakeHub, hub_env: Path,
                                                       tmp_path: Path) -> None:
    fake_hub.add_repo("ggml-org/models", {"tinyllamas/stories260K.gguf": GeneratedFile(2000)})
    failing = SUITE + "def test_gone():\n    s.model_hf_repo = 'ggml-org/gone'\n"
    root = write_suite(tmp_path / "proj", failing, "test_suite.py")
    summary = tmp_path / "summary.md"
    run = invoke(root, tmp_path / "cache", "test.server", "--keep-going", "--", "-k",
                 "cached or gone", GITHUB_STEP_SUMMARY=str(summary))
    assert run.returncode == 1, "test_gone fails: pytest's exit code"
    text = summary.read_text()
    assert text.startswith("### models.fetch\n\n2 models: 1 downloaded, 1 failed; downloaded")
    assert "| ggml-org/models tinyllamas/stories260K.gguf | tinyllamas/stories260K.gguf | " \
           "2.0 kB | downloaded |" in text
    assert "- `ggml-org/gone`: ggml-org/gone: repository not found on the Hub" in text
    assert "(needed by tools/server/tests/test_suite.py:" in text
    assert text.endswith("### test.server\n\n`pytest --durations=30 -k 'cached or gone'`: "
                         "failed (exit 1)\n\n")


def test_an_unwritable_step_summary_is_a_warning(fake_hub: FakeHub, hub_env: Path,
                                               tmp_path: Path) -> None:
    fake_hub.add_repo("ggml-org/models", {"tinyllamas/stories260K.gguf": GeneratedFile(2000)})
    root = write_suite(tmp_path / "proj", SUITE, "test_suite.py")
    run = subprocess.run(invoke_command("models.fetch"), cwd=root, capture_output=True,
                         text=True, timeout=120,
                         env=dict(os.environ, LLAMA_CACHE=str(tmp_path / "cache"),
                                  GITHUB_STEP_SUMMARY=str(tmp_path / "missing-dir" / "s.md")))
    assert run.returncode == 0, run.stderr
    assert "warning: cannot append to GITHUB_STEP_SUMMARY" in run.stderr


#: Tests that report what llama-server would get: one per worker at least, under xdist.
OFFLINE_SUITE = SUITE + "".join(f"""
def test_llama_server_env_{i}():
    assert os.environ.get("LLAMA_ARG_OFFLINE", "") == os.environ["EXPECT_LLAMA_OFFLINE"]
    assert os.environ.get("HF_HUB_OFFLINE") is None
""" for i in range(4))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_once_every_model_is_in_place_llama_server_runs_offline_unless_online(
    workers: str, fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """llama.cpp's `load_all` asks the Hub about every preset at every start: after a complete
    fetch the tests (each xdist worker too) get LLAMA_ARG_OFFLINE=1, and nothing else."""
    fake_hub.add_repo("ggml-org/models", {"tinyllamas/stories260K.gguf": GeneratedFile(2000)})
    root = write_suite(tmp_path / "proj", OFFLINE_SUITE, "test_suite.py")
    cache = tmp_path / "cache"
    for flags, expected in (([], "1"), (["--online"], "")):
        run = invoke(root, cache, "test.server", *flags, "--workers", workers, "--", "-k",
                     "llama_server_env or cached", "-p", "no:cacheprovider",
                     EXPECT_LLAMA_OFFLINE=expected)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "5 passed" in run.stdout
        said = "note: every model the tests need is in place: llama-server runs offline"
        assert (said in run.stdout) == (expected == "1")


def test_the_suites_working_folder_exists_for_the_run(fake_hub: FakeHub, hub_env: Path,
                                                     tmp_path: Path) -> None:
    """llama.cpp's suite writes into `tmp/` (download_file, preset files), which llama-server
    would have created with the suite's default LLAMA_CACHE=tmp; ours is set elsewhere."""
    writes = ("def test_writes_into_tmp():\n"
              "    with open('./tmp/test_dedup.ini', 'w') as f:\n"
              "        f.write('[x]\\n')\n")
    root = write_suite(tmp_path / "proj", writes, "test_suite.py")
    run = invoke(root, tmp_path / "cache", "test.server", "--no-fetch")
    assert run.returncode == 0, run.stdout + run.stderr
    suite = root / "tools/server/tests"
    assert f"created tmp/ in {suite}: the suite writes there" in run.stdout
    assert (suite / "tmp/test_dedup.ini").is_file()
    again = invoke(root, tmp_path / "cache", "test.server", "--no-fetch")
    assert again.returncode == 0 and "created" not in again.stdout, "said once"


@pytest.mark.parametrize("template", ["tmp/x.gguf", "/abs/{name}", "../up/{name}",
                                      "tmp/{name}/{other}"])
def test_a_bad_url_destination_is_a_usage_error(template: str, tmp_path: Path) -> None:
    root = write_suite(tmp_path / "proj", SUITE, "test_suite.py")
    bad = invoke(root, tmp_path / "cache", "models.list", INVOKE_MODELS_URL_DEST=template)
    assert (bad.returncode, "Traceback" in bad.stderr) == (2, False), bad.stderr
    assert "error: invalid option: url_dest: " in bad.stderr
