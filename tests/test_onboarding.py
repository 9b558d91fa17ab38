"""A newcomer's first `test.server`: the tool installed from a wheel into its own virtualenv,
the suite's requirements in another, and every gap in the setup (a requirement, llama-server,
the interpreter) found before the first request, with the command that fixes it. The
llama-server binaries here are stand-ins (shell scripts that print a version)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.setup import preflight
from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import REPO_ROOT, invoke_command, write_suite

SUITE = """
import os
from pathlib import Path

class Server:
    model_hf_repo = None
    model_hf_file = None

def test_model_is_cached():
    server = Server()
    server.model_hf_repo = "ggml-org/models"
    server.model_hf_file = "tinyllamas/stories260K.gguf"
    folder = Path(os.environ["LLAMA_CACHE"]) / "models--ggml-org--models"
    commit = (folder / "refs" / "main").read_text()
    assert (folder / "snapshots" / commit / server.model_hf_file).stat().st_size == 2000
"""

#: A suite whose utils.py starts llama-server the way llama.cpp's does.
UTILS = 'import os\nSERVER = os.environ.get("LLAMA_SERVER_BIN_PATH", "../../../build/bin/x")\n'


def serve_model(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("ggml-org/models", {"tinyllamas/stories260K.gguf": GeneratedFile(2000)})


def run(command: list[str], cwd: Path, cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    full_env.update(LLAMA_CACHE=str(cache), PYTEST_WORKERS="1", **env)
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=300)


def standin_server(path: Path, script: str = 'echo "version: 4242 (abc1234)" >&2\n') -> Path:
    """A stand-in for llama-server: answers `--version` as the real one does (on stderr)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def server_suite(root: Path) -> Path:
    write_suite(root, SUITE)
    (root / "tools/server/tests/utils.py").write_text(UTILS)
    return root


# -- preflight: nothing is asked of the Hub until the run can work ---------------------------

def test_a_missing_requirement_is_named_with_its_pip_command_and_nothing_is_fetched(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_model(fake_hub)
    root = write_suite(tmp_path / "proj", "import wget_not_installed\n" + SUITE)
    requirements = root / "tools/server/tests/requirements.txt"
    requirements.write_text("wget_not_installed\n")
    result = run(invoke_command("test.server"), root, tmp_path / "cache")
    assert result.returncode == 2, result.stdout + result.stderr
    assert (f"{sys.executable} (this tool's interpreter) has no wget_not_installed. Install "
            "the suite's requirements:") in result.stderr
    assert f"{sys.executable} -m pip install -r {requirements}" in result.stderr
    assert "Traceback" not in result.stderr and "passed" not in result.stdout
    assert fake_hub.requests == []


def test_a_missing_llama_server_is_named_with_the_build_commands_before_any_request(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_model(fake_hub)
    root = server_suite(tmp_path / "proj")
    result = run(invoke_command("test.server"), root, tmp_path / "cache")
    assert result.returncode == 2, result.stdout + result.stderr
    assert (f"llama-server not found at {root}/build/bin/llama-server (LLAMA_SERVER_BIN_PATH "
            "is not set)") in result.stderr
    assert "cmake --build build --target llama-server" in result.stderr
    assert fake_hub.requests == []


def test_a_llama_server_that_does_not_run_is_refused_before_any_request(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_model(fake_hub)
    root = server_suite(tmp_path / "proj")
    not_executable = root / "build/bin/llama-server"
    not_executable.parent.mkdir(parents=True)
    not_executable.write_text("not a program")
    broken = standin_server(tmp_path / "broken", "echo 'error while loading shared libraries' "
                                                 ">&2\nexit 127\n")
    for binary, said in ((None, "cannot be run (Permission denied)"),
                         (broken, "--version exited with code 127: error while loading shared "
                                  "libraries")):
        env = {"LLAMA_SERVER_BIN_PATH": str(binary)} if binary else {}
        result = run(invoke_command("test.server"), root, tmp_path / "cache", **env)
        assert result.returncode == 2, result.stdout + result.stderr
        assert said in result.stderr and "cmake -B build" in result.stderr
    assert fake_hub.requests == []


def test_the_first_screen_shows_the_setup_and_never_the_token(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_model(fake_hub)
    root = server_suite(tmp_path / "proj")
    standin_server(root / "build/bin/llama-server")
    result = run(invoke_command("test.server"), root, tmp_path / "cache",
                 HF_TOKEN="hf_SecretSecretSecret123")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"python       {sys.executable} (this tool's interpreter), "
                               "pytest ")
    assert lines[1] == f"llama-server {root}/build/bin/llama-server (version: 4242 (abc1234))"
    assert lines[2].startswith(f"cache        {tmp_path / 'cache'}, ") and "free" in lines[2]
    assert lines[3] == f"hub          {fake_hub.url}, token set"
    assert "SecretSecret" not in result.stdout + result.stderr
    assert "1 passed" in result.stdout


@pytest.mark.parametrize("way", ["yaml", "env"])
def test_the_server_check_can_be_turned_off_for_other_suites(
    way: str, fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """`server_bin: false` in YAML, or INVOKE_TEST_SERVER_BIN=false (never a binary named
    "false")."""
    serve_model(fake_hub)
    root = server_suite(tmp_path / "proj")
    (root / "invoke.yaml").write_text("test:\n  server_bin: false\n")
    config = ["-f", str(root / "invoke.yaml")] if way == "yaml" else []
    env = {"INVOKE_TEST_SERVER_BIN": "false"} if way == "env" else {}
    result = run(invoke_command(*config, "test.server"), root, tmp_path / "cache", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "llama-server not checked" in result.stdout


@pytest.mark.parametrize("python", ["missing/python", "tools"])
def test_a_wrong_python_is_a_usage_error_before_any_request(
    python: str, fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    root = write_suite(tmp_path / "proj", SUITE)
    result = run(invoke_command("test.server", "--python", python), root, tmp_path / "cache")
    assert result.returncode == 2
    assert (f"error: --python (test.python): {root / python} is not an executable Python "
            "interpreter") in result.stderr
    assert fake_hub.requests == []


# -- installed as a tool, run on a suite with its own virtualenv ------------------------------

def build_wheel(tmp_path: Path) -> Path:
    """The tool as a wheel, built from a copy of the tree (no build files left in the repo)."""
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "examples", "bench", "tests", "__pycache__", "*.egg-info", "build"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path / "dist"), str(source)],
                   check=True, timeout=300)
    [wheel] = (tmp_path / "dist").glob("fetch_test_models-*.whl")
    return wheel


def make_venv(path: Path, *packages: str) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    subprocess.run([str(path / "bin/python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", *packages], check=True, timeout=600)
    return path / "bin" / "python"


@pytest.mark.slow
def test_the_tool_installed_from_a_wheel_runs_a_suite_from_its_own_virtualenv(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_model(fake_hub)
    tool = make_venv(tmp_path / "tool", str(build_wheel(tmp_path))).parent / "fetch-test-models"
    suite_python = make_venv(tmp_path / "suite-venv", "pytest")
    root = write_suite(tmp_path / "proj", SUITE)
    cache = tmp_path / "cache"

    version = run([str(tool), "--version"], root, cache)
    assert version.returncode == 0 and version.stdout.startswith("fetch-test-models ")
    listed = run([str(tool), "--list"], root, cache)
    assert all(task in listed.stdout for task in ("models.list", "models.fetch", "models.lock",
                                                  "models.prune", "test.server"))
    ways = [(["--python", str(suite_python)], {}, "--python (test.python)"),
            ([], {"VIRTUAL_ENV": str(suite_python.parent.parent)}, "VIRTUAL_ENV")]
    for flags, env, source in ways:
        result = run([str(tool), "test.server", *flags, "--", "-q"], root, cache, **env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"python       {suite_python} ({source}), pytest " in result.stdout
        assert f"running {suite_python} -m pytest " in result.stdout
        assert "1 passed" in result.stdout
    (root / ".venv").symlink_to(suite_python.parent.parent)
    result = run([str(tool), "test.server", "--", "-q"], root, cache)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"python       {root}/.venv/bin/python (.venv under the root)" in result.stdout
    assert "1 passed" in result.stdout
    gets = [r for r in fake_hub.requests if r.kind == "resolve" and r.method == "GET"]
    assert len(gets) == 1, "fetched once, then cached for the other runs"


# -- the README's quick start, command by command ---------------------------------------------

QUICK_START = re.compile(r"<!-- quick-start[^>]*-->(.*?)<!-- /quick-start -->", re.S)


def quick_start() -> list[str]:
    """The commands of the README's quick start, and the alternatives in their comments."""
    block = QUICK_START.search((REPO_ROOT / "README.md").read_text())
    assert block, "the README has no quick start block"
    commands = []
    for code in re.findall(r"```sh\n(.*?)```", block[1], re.S):
        for line in code.splitlines():
            command, _, comment = line.partition("#")
            commands.append(command.strip())
            commands += [alt.strip() for alt in comment.split("or:")[1:]]
    return [command for command in commands if command]


@pytest.mark.slow
def test_every_command_of_the_quick_start_works_as_a_newcomer_types_it(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """pipx and uv install the tool from a clone into their own environments; the suite's
    venv gets its requirements; `fetch-test-models test.server` runs in the checkout. The two
    cmake commands are the ones preflight prints; here a stand-in llama-server takes their
    place (the example suite is not llama.cpp)."""
    from tests.example_suite import copy_example, serve_example_repos

    serve_example_repos(fake_hub)
    commands = quick_start()
    assert commands == [
        'git clone "$REPO_URL" fetch-test-models',
        "pipx install ./fetch-test-models", "uv tool install ./fetch-test-models",
        *preflight.BUILD_COMMANDS, "python3 -m venv .venv",
        ".venv/bin/pip install -r tools/server/tests/requirements.txt",
        "fetch-test-models test.server unit/test_basic.py"]
    commands = commands[1:]  # the clone: a copy of this tree, as `git clone` makes it
    home = tmp_path / "home"
    shutil.copytree(REPO_ROOT, home / "fetch-test-models", ignore=shutil.ignore_patterns(
        ".git", ".venv", "examples", "bench", "tests", "__pycache__", "*.egg-info", "build"))
    installers = make_venv(tmp_path / "installers", "pipx", "uv").parent
    tools = {"PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "pipx-bin"),
             "UV_TOOL_DIR": str(tmp_path / "uv"), "UV_TOOL_BIN_DIR": str(tmp_path / "uv-bin"),
             "PATH": f"{installers}{os.pathsep}{os.environ['PATH']}"}
    for install in commands[:2]:
        done = run(shlex.split(install), home, tmp_path / "cache", **tools)
        assert done.returncode == 0, done.stdout + done.stderr
    checkout = copy_example(tmp_path)
    utils = checkout / "tools/server/tests/utils.py"
    utils.write_text(utils.read_text() + "# started from LLAMA_SERVER_BIN_PATH\n")
    standin_server(checkout / "build/bin/llama-server")  # what the cmake commands build
    for setup in commands[4:6]:
        done = run(shlex.split(setup), checkout, tmp_path / "cache")
        assert done.returncode == 0, done.stdout + done.stderr
    for bin_dir in ("pipx-bin", "uv-bin"):
        path = f"{tmp_path / bin_dir}{os.pathsep}{os.environ['PATH']}"
        result = run(shlex.split(commands[6]), checkout, tmp_path / "cache", PATH=path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"python       {checkout}/.venv/bin/python (.venv under the root)" in result.stdout
        assert "llama-server " + str(checkout / "build/bin/llama-server") in result.stdout
        assert "3 passed" in result.stdout


def test_every_missing_piece_is_named_in_one_run_with_its_fix(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """pytest and a requirement missing from the suite's interpreter, no llama-server, and a
    cache that is a file: one run names all four, each with its fix, before any request."""
    serve_model(fake_hub)
    root = server_suite(tmp_path / "proj")
    requirements = root / "tools/server/tests/requirements.txt"
    requirements.write_text("pytest~=8.3  # the runner\nfilelock\n-r more.txt\n"
                            "numpy; python_version < '3'\n")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")],
                   check=True, timeout=300)
    (tmp_path / "cache-file").write_text("")
    result = run(invoke_command("test.server", "unit/test_basic.py", "-x"), root,
                 tmp_path / "cache-file")
    assert result.returncode == 2, result.stdout + result.stderr
    said = result.stderr
    assert said.startswith("error: 3 things this run needs are missing (each with its fix):\n")
    python = root / ".venv/bin/python"
    assert (f"  - {python} (.venv under the root) has no pytest, filelock. Install the suite's "
            f"requirements:\n        {python} -m pip install -r {requirements}\n") in said
    assert f"  - llama-server not found at {root}/build/bin/llama-server" in said
    assert "\n        cmake --build build --target llama-server -j\n" in said
    assert f"{tmp_path / 'cache-file'}" in said and "numpy" not in said
    assert "Traceback" not in said and fake_hub.requests == []


def test_too_little_room_for_the_cache_is_one_of_the_missing_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "free_bytes", lambda folder: 5 * 2**20)
    with pytest.raises(preflight.SetupError) as error:
        preflight.server_setup(None, {"LLAMA_CACHE": str(tmp_path)}, tmp_path, tmp_path, False,
                               None, hub=False)
    assert str(error.value) == (f"only 5 MiB free for the cache {tmp_path}: free some space, "
                                "or set LLAMA_CACHE to a folder on a larger disk")


# -- a tests.sh user's first commands, in tools/server/tests ----------------------------------

def test_a_newcomer_types_pytest_s_habits_in_the_suite_folder(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """From tools/server/tests (the root found above it), pytest's short flags and paths with
    no `--`: first every missing piece at once, then a selection of no test (exit 5, no
    success line), then the run; tmp/ only once a collection succeeded."""
    serve_model(fake_hub)
    root = server_suite(tmp_path / "proj")
    suite = root / "tools/server/tests"
    (suite / "requirements.txt").write_text("pytest\n")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")],
                   check=True, timeout=300)
    cache = tmp_path / "cache"

    first = run(invoke_command("test.server", "test_models.py", "-k", "cached", "-x"), suite,
                cache)
    assert first.returncode == 2, first.stdout + first.stderr
    assert first.stderr.startswith("error: 2 things this run needs are missing")
    assert f"{root}/.venv/bin/python (.venv under the root) has no pytest." in first.stderr
    assert f"llama-server not found at {root}/build/bin/llama-server" in first.stderr

    shutil.rmtree(root / ".venv")  # the newcomer follows the fixes
    standin_server(root / "build/bin/llama-server")
    for selection, code, said in (
            (["-k", "nothing_has_this_name"], 5, "no test selected: `pytest --durations=30 -k "
             f"nothing_has_this_name -x` collects no test in {suite}"),
            (["no_such_test.py"], 2, "file or directory not found: no_such_test.py")):
        nothing = run(invoke_command("test.server", *selection, "-x"), suite, cache)
        assert nothing.returncode == code, nothing.stdout + nothing.stderr
        assert said in nothing.stdout + nothing.stderr
        assert "in place" not in nothing.stdout and "models:" not in nothing.stdout
        assert not (suite / "tmp").exists()
    assert fake_hub.requests == []

    ran = run(invoke_command("test.server", "test_models.py", "-k", "cached", "-x"), suite,
              cache)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "pytest --durations=30 test_models.py -k cached -x in " in ran.stdout
    assert "1 passed" in ran.stdout and (suite / "tmp").is_dir()


@pytest.mark.parametrize("task", ["models.list", "models.fetch", "models.lock"])
def test_a_selection_of_no_test_is_said_with_pytest_s_code_and_no_success_line(
    task: str, fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_model(fake_hub)
    root = write_suite(tmp_path / "proj", SUITE)
    result = run(invoke_command(task, "-k", "no_test_has_this_name"), root, tmp_path / "cache")
    assert result.returncode == 5, result.stdout + result.stderr
    assert result.stderr == ("no test selected: `pytest -k no_test_has_this_name` collects no "
                             f"test in {root / 'tools/server/tests'} (are the paths relative "
                             "to that folder, and does -k or -m match?)\n")
    assert result.stdout == "" and fake_hub.requests == []
