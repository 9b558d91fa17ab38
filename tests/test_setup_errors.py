"""A user's setup that cannot work — a token with a newline or a control character, an endpoint
that is not http(s)://host, a cache path that is a file — is caught before the first request;
Ctrl-C is exit 130 with one line in every task and phase; a collection that fails or hangs says
what pytest printed."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from scanner.selection import collect
from tests.downloads import wait_for
from tests.fakehub import FakeHub, Fault, GeneratedFile
from tests.helpers import invoke_command, run_fetch, suite_for, write_suite

SECRET = "hf_" + "Tr41l1ngN3wl1n3" * 2


def gated_model(fake_hub: FakeHub) -> None:
    fake_hub.valid_token = SECRET
    fake_hub.add_repo("org/gated", {"g-Q4_K_M.gguf": GeneratedFile(10_000, 1)}, gated=True)


def test_a_token_read_with_its_trailing_newline_is_sent_without_it(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`HF_TOKEN=$(cat token-file)` keeps the newline: no header may carry it."""
    gated_model(fake_hub)
    monkeypatch.setenv("HF_TOKEN", f"  {SECRET}\n")
    code, out, err = run_fetch(suite_for(tmp_path / "p", "org/gated"), capsys)
    assert code == 0, out + err
    assert {r.headers.get("authorization") for r in fake_hub.requests} == {f"Bearer {SECRET}"}
    assert SECRET not in out + err


def test_a_token_with_a_control_character_inside_is_refused_unseen_before_any_request(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gated_model(fake_hub)
    monkeypatch.setenv("HF_TOKEN", f"{SECRET[:10]}\x1b{SECRET[10:]}")
    code, out, err = run_fetch(suite_for(tmp_path / "p", "org/gated"), capsys)
    assert code == 2
    assert "HF_TOKEN holds a space or a control character" in err
    assert SECRET[:10] not in out + err and SECRET[10:] not in out + err
    assert fake_hub.requests == []


@pytest.mark.parametrize("endpoint", ["ftp://x", "huggingface.co", "http://", "https://:80"])
def test_an_endpoint_that_is_not_http_host_is_a_usage_error_before_any_request(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODEL_ENDPOINT", endpoint)
    code, out, err = run_fetch(suite_for(tmp_path / "p", "org/a"), capsys)
    assert code == 2, out + err
    assert f"error: MODEL_ENDPOINT: {endpoint!r} is not an http(s)://host address" in err
    assert "cannot reach" not in out + err


def test_the_endpoint_is_not_checked_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODEL_ENDPOINT", "huggingface.co")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    code, out, err = run_fetch(suite_for(tmp_path / "p", "org/a"), capsys, offline=True)
    assert code == 1  # not cached: the model fails, the setting does not
    assert "not in the cache" in out + err and "MODEL_ENDPOINT" not in err


@pytest.mark.parametrize("via", ["flag", "LLAMA_CACHE"])
def test_a_cache_path_that_is_a_file_is_a_usage_error_before_any_request(
    via: str, fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(1_000, 1)})
    file = tmp_path / "not-a-folder"
    file.write_text("x")
    flags: dict[str, object] = {}
    if via == "flag":
        flags["cache_dir"] = str(file / "hub")
    else:
        monkeypatch.setenv("LLAMA_CACHE", str(file))
    code, _, err = run_fetch(suite_for(tmp_path / "p", "org/a"), capsys, **flags)
    assert code == 2
    name = "--cache-dir (models.cache_dir)" if via == "flag" else "LLAMA_CACHE"
    assert f"error: {name}: the cache " in err and f"{file} is a file" in err
    assert fake_hub.requests == []


def test_prune_and_lock_refuse_a_cache_path_that_is_a_file(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
) -> None:
    file = tmp_path / "not-a-folder"
    file.write_text("x")
    root = suite_for(tmp_path / "p", "org/a")
    for task in ("models.prune", "models.lock"):
        run = subprocess.run(invoke_command(task, "--root", str(root)), capture_output=True,
                             text=True, timeout=120, env=dict(os.environ, LLAMA_CACHE=str(file)))
        assert run.returncode == 2, run.stdout + run.stderr
        assert "error: LLAMA_CACHE: the cache" in run.stderr and "Traceback" not in run.stderr
    assert fake_hub.requests == []


@pytest.mark.parametrize(("setting", "task", "env", "flags"), [
    ("VIRTUAL_ENV", "test.server", "VIRTUAL_ENV", []),
    ("VIRTUAL_ENV", "models.fetch", "VIRTUAL_ENV", ["--", "-q"]),
    ("root (--root, models.root)", "models.list", None, ["--root", "LOOP"]),
    ("LLAMA_CACHE", "models.fetch", "LLAMA_CACHE", []),
    ("--cache-dir (models.cache_dir)", "models.prune", None, ["--cache-dir", "LOOP/hub"]),
    ("test.server_bin", "test.server", "INVOKE_TEST_SERVER_BIN", []),
    ("test.suite (--suite)", "models.list", None, ["--suite", "LOOP", "--", "-q"]),
])
def test_a_setting_that_leads_into_a_symbolic_link_loop_is_a_usage_error(
    setting: str, task: str, env: str | None, flags: list[str], fake_hub: FakeHub,
    hub_env: Path, tmp_path: Path,
) -> None:
    """A link loop where a folder or file is named: one line naming the setting, exit 2, no
    request (VIRTUAL_ENV and --root were a RuntimeError traceback)."""
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(1_000, 1)})
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "back")
    (tmp_path / "back").symlink_to(loop)
    root = suite_for(tmp_path / "p", "org/a")
    args = [arg.replace("LOOP", str(loop)) for arg in flags]
    if "--root" not in args:
        args = ["--root", str(root), *args]
    run = subprocess.run(invoke_command(task, *args), capture_output=True, text=True,
                         timeout=120, cwd=root,
                         env=dict(os.environ, **({env: str(loop)} if env else {})))
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert f"{setting}: {loop}" in run.stderr and "leads into a symbolic link loop" in run.stderr
    assert fake_hub.requests == []


# -- Ctrl-C in every task and phase (real processes, the signal sent as a terminal sends it) ---

HANGING_CONFTEST = """\
import os, pathlib, time
if os.environ.get("FTM_TEST_HANG") == "collect":
    pathlib.Path(os.environ["FTM_TEST_MARK"]).write_text("collecting")
    time.sleep(120)
"""

HANGING_TEST = """\
import types

def test_model():
    s = types.SimpleNamespace()
    s.model_hf_repo = "org/a"

def test_slow():
    import os, pathlib, time
    pathlib.Path(os.environ["FTM_TEST_MARK"]).write_text("running")
    time.sleep(120)
"""


def hanging_suite(root: Path) -> Path:
    write_suite(root, HANGING_TEST)
    (root / "tools/server/tests/conftest.py").write_text(HANGING_CONFTEST)
    return root


def ctrl_c(args: list[str], root: Path, mark: Path, **env: str) -> tuple[int, str]:
    """Run a task in its own process group, wait for `mark`, then Ctrl-C the group."""
    run = subprocess.Popen(invoke_command(*args), cwd=root, text=True, start_new_session=True,
                           env=dict(os.environ, FTM_TEST_MARK=str(mark), TERM="dumb", **env),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(mark.exists, f"{mark.name} from the task", timeout=120)
        os.killpg(run.pid, signal.SIGINT)
        out, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert "Traceback" not in out, out
    return run.returncode, out


@pytest.mark.slow
@pytest.mark.parametrize("task", ["models.list", "models.fetch", "models.lock", "test.server"])
def test_ctrl_c_during_the_collection_is_exit_130_with_one_line(
    task: str, fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
) -> None:
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(1_000, 1)})
    root = hanging_suite(tmp_path / "p")
    code, out = ctrl_c([task, "--", "-k", "model"], root, tmp_path / "mark",
                       FTM_TEST_HANG="collect")
    assert code == 130, out
    assert len([line for line in out.splitlines() if line.startswith("interrupted: ")]) == 1, out
    assert fake_hub.requests == []
    assert not (root / "models.lock").exists()


@pytest.mark.slow
def test_ctrl_c_during_models_lock_on_a_hung_hub_is_exit_130_and_writes_nothing(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
) -> None:
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(1_000, 1)})
    fake_hub.add_fault("/tree/", Fault("slow", seconds=60), times=None)
    root = suite_for(tmp_path / "p", "org/a")
    run = subprocess.Popen(invoke_command("models.lock", "--root", str(root)), text=True,
                           start_new_session=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    wait_for(lambda: fake_hub.count(kind="tree"), "the listing")
    os.killpg(run.pid, signal.SIGINT)
    out, _ = run.communicate(timeout=60)
    assert run.returncode == 130, out
    assert "interrupted: stopped by Ctrl-C; the lock file was not changed" in out
    assert "Traceback" not in out
    assert not (root / "models.lock").exists()


@pytest.mark.slow
def test_ctrl_c_during_the_tests_lets_pytest_finish_then_is_exit_130(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
) -> None:
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(1_000, 1)})
    root = hanging_suite(tmp_path / "p")
    code, out = ctrl_c(["test.server", "--workers", "1", "--", "-p", "no:cacheprovider"], root,
                       tmp_path / "mark")
    assert code == 130, out
    assert "1 passed" in out, "pytest's own summary of the interrupted run is shown"
    assert out.rstrip().endswith("interrupted: the tests stopped (pytest's summary above)")


# -- a collection that fails or hangs -----------------------------------------------------------

def test_a_collection_that_exits_silently_says_pytest_printed_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    root = write_suite(tmp_path / "p", "def test_a():\n    s.model_hf_repo = 'org/a'\n")
    (root / "tools/server/tests/conftest.py").write_text("import sys\nsys.exit(3)\n")
    run = subprocess.run(invoke_command("models.list", "--root", str(root), "--", "-q"),
                         capture_output=True, text=True, timeout=120)
    assert "pytest exited with code 3 while collecting and printed nothing" in run.stderr, (
        run.stdout + run.stderr)


def test_a_collection_that_hangs_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "conftest.py").write_text(textwrap.dedent("""\
        import threading
        threading.Event().wait()
    """))
    (folder / "test_a.py").write_text("def test_a():\n    pass\n")
    selection = collect.collect_tests(folder, tmp_path, [], dict(os.environ), [], timeout=2)
    assert selection.error is not None
    assert selection.error.startswith("pytest was stopped after collecting for 2 s")
    assert selection.tests == ()
