"""`models.lock`, `--check` and `models.fetch --locked`, against a fake Hub whose repos have a
history (their `main` moves)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from scanner import commands
from scanner.options import build_options
from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import (
    invoke_command,
    llama_offline_lookup,
    run_fetch,
    suite_for,
    write_suite,
)

REPO = "org/pinned-GGUF"
MODEL = "pinned-Q4_K_M.gguf"


def lock(root: Path, capsys: pytest.CaptureFixture[str],
         check: bool = False) -> tuple[int, str, str]:
    code = commands.lock_models(build_options({}, root=str(root)), check=check)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def history(fake_hub: FakeHub, hub_env: Path, tmp_path: Path) -> tuple[Path, str, bytes]:
    """A suite of two models; returns (root, the commit the lock pins, the pinned bytes)."""
    first = GeneratedFile(3000, 1)
    commit = fake_hub.add_repo(REPO, {MODEL: first, "mmproj-f16.gguf": GeneratedFile(500, 2)})
    fake_hub.add_repo("org/small", {"config.json": b"{}", "small-Q8_0.gguf": GeneratedFile(700)})
    return suite_for(tmp_path / "p", f"{REPO}:Q4_K_M", "org/small"), commit, first.read()


def test_the_lock_pins_every_file_sorted_and_is_rewritten_identically(
    fake_hub: FakeHub, history: tuple[Path, str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    root, commit, pinned = history
    assert lock(root, capsys)[0] == 0
    path = root / "tools/server/tests/models.lock"
    text = path.read_text()
    small = fake_hub.commit("org/small")
    assert text.splitlines() == [
        "version\t1",
        f"{REPO}:Q4_K_M\t-\t{REPO}@{commit}\tmmproj-f16.gguf\t500\t"
        f"sha256:{fake_hub.sha256(REPO, 'mmproj-f16.gguf')}",
        f"{REPO}:Q4_K_M\t-\t{REPO}@{commit}\t{MODEL}\t3000\t"
        f"sha256:{hashlib.sha256(pinned).hexdigest()}",
        f"org/small\t-\torg/small@{small}\tsmall-Q8_0.gguf\t700\t"
        f"sha256:{fake_hub.sha256('org/small', 'small-Q8_0.gguf')}",
    ]
    assert lock(root, capsys)[0] == 0 and path.read_text() == text, "byte-identical"
    code, out, _ = lock(root, capsys, check=True)
    assert code == 0 and "is up to date (3 files)" in out


def test_locked_fetch_takes_the_pinned_commit_after_main_moved(
    fake_hub: FakeHub, hub_env: Path, history: tuple[Path, str, bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, commit, pinned = history
    assert lock(root, capsys)[0] == 0
    fake_hub.add_repo(REPO, {MODEL: GeneratedFile(3100, 9),
                             "mmproj-f16.gguf": GeneratedFile(500, 2)})
    code, _, err = lock(root, capsys, check=True)
    assert code == 1 and "is stale: `invoke models.lock` would change it" in err
    fake_hub.reset_counts()
    code, out, _ = run_fetch(root, capsys, locked=True)
    assert code == 0, out
    assert fake_hub.count(kind="refs") == fake_hub.count(kind="tree") == 0, "no listing asked"
    assert llama_offline_lookup(hub_env, REPO, MODEL) == pinned, "the locked bytes, not main's"
    assert (hub_env / "models--org--pinned-GGUF/refs/main").read_text() == commit
    fake_hub.stop()
    code, out, _ = run_fetch(root, capsys, locked=True)
    assert code == 0, "a warm cache needs no network at all"
    assert "3 models" not in out and "2 models: 2 cached" in out


def test_a_reference_the_lock_lacks_and_a_broken_lock_are_named(
    history: tuple[Path, str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _, _ = history
    assert lock(root, capsys)[0] == 0
    suite_for(root, f"{REPO}:Q4_K_M", "org/small", "org/new-GGUF")
    code, out, _ = run_fetch(root, capsys, locked=True)
    assert code == 1
    path = root / "tools/server/tests/models.lock"
    assert f"org/new-GGUF: not in {path} (run `invoke models.lock` to pin it)" in out
    path.write_text(path.read_text().replace("\t3000\t", "\tbig\t"))
    code, _, err = run_fetch(root, capsys, locked=True)
    assert code == 2
    assert f"error: {path}:3: 'big' 'sha256:" in err
    path.unlink()
    code, _, err = run_fetch(root, capsys, locked=True)
    assert (code, err.strip()) == (2, f"error: {path} does not exist: run `invoke models.lock` "
                                      "to write it")


def test_test_server_and_check_through_invoke(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    fake_hub.add_repo(REPO, {MODEL: GeneratedFile(3000, 1)})
    root = write_suite(tmp_path / "p", f"class S:\n    pass\n\n\ndef test_a():\n    s = S()\n"
                                       f"    s.model_hf_repo = '{REPO}:Q4_K_M'\n")
    env = dict(os.environ, LLAMA_CACHE=str(hub_env), PYTEST_WORKERS="1")

    def invoke(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(invoke_command(*args), cwd=root, env=env, capture_output=True,
                              text=True, timeout=120)

    assert invoke("models.lock").returncode == 0
    assert invoke("models.lock", "--check").returncode == 0
    fake_hub.add_repo(REPO, {MODEL: GeneratedFile(3000, 5)})
    stale = invoke("models.lock", "--check")
    assert stale.returncode == 1 and "is stale" in stale.stderr
    fake_hub.reset_counts()
    run = invoke("test.server", "--locked", "--offline")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert fake_hub.count(kind="tree") == 0, "the lock, not the Hub, said which files"
