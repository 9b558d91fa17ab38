"""`models.lock`, `--check` and `models.fetch --locked`, against a fake Hub whose repos have a
history (their `main` moves)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

import pytest

from scanner.cli import commands
from scanner.cli.options import build_options
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


def test_with_the_hub_unreachable_the_lock_is_neither_written_nor_passed(
    fake_hub: FakeHub, hub_env: Path, history: tuple[Path, str, bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A fetch may stand in the cached snapshot for an unreachable Hub; a lock must not: it
    would pin, or pass as up to date, a commit `main` may have left."""
    root, _, _ = history
    assert run_fetch(root, capsys)[0] == 0 and lock(root, capsys)[0] == 0
    path = root / "tools/server/tests/models.lock"
    fake_hub.stop()
    code, _, err = lock(root, capsys, check=True)
    assert code == 1 and "was not checked" in err and "Hub unavailable" in err
    path.unlink()
    code, _, err = lock(root, capsys)
    assert code == 1 and "was not written" in err and not path.exists()


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
    assert code == 1 and "is stale: `fetch-test-models models.lock` would change it" in err
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
    root, _, pinned = history
    assert lock(root, capsys)[0] == 0
    suite_for(root, f"{REPO}:Q4_K_M", "org/small", "org/new-GGUF")
    code, out, _ = run_fetch(root, capsys, locked=True)
    assert code == 1
    path = root / "tools/server/tests/models.lock"
    assert f"org/new-GGUF: not in {path} (run `fetch-test-models models.lock` to pin it)" in out
    good = path.read_text()
    gone = good.replace(f"\t{MODEL}\t", "\tgone-Q4_K_M.gguf\t").replace(
        hashlib.sha256(pinned).hexdigest(), "0" * 64)  # bytes no cache holds
    path.write_text(gone)
    suite_for(root, f"{REPO}:Q4_K_M", "org/small")
    code, out, _ = run_fetch(root, capsys, locked=True)
    assert code == 1, "the Hub no longer has a locked file at its commit"
    assert f"{REPO} gone-Q4_K_M.gguf: file not found in the repo (HTTP 404)" in out
    path.write_text(good.replace("\t3000\t", "\tbig\t"))
    code, _, err = run_fetch(root, capsys, locked=True)
    assert code == 2
    assert f"error: {path}:3: 'big' 'sha256:" in err
    path.unlink()
    code, _, err = run_fetch(root, capsys, locked=True)
    assert (code, err.strip()) == (2, f"error: {path} does not exist: run "
                                      "`fetch-test-models models.lock` to write it")


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


def age(path: Path, seconds: float = 7200) -> None:
    """Make a snapshot look untouched for `seconds` (a fresh one may be a fetch in progress)."""
    then = time.time() - seconds
    for item in [path, *path.rglob("*")]:
        os.utime(item, (then, then), follow_symlinks=False)


def test_prune_lists_then_removes_exactly_what_is_no_longer_needed(
    fake_hub: FakeHub, hub_env: Path, history: tuple[Path, str, bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, old_commit, _ = history
    assert run_fetch(root, capsys)[0] == 0
    new = GeneratedFile(3100, 9)
    fake_hub.add_repo(REPO, {MODEL: new, "mmproj-f16.gguf": GeneratedFile(500, 2)})
    assert run_fetch(root, capsys, latest=True)[0] == 0
    fake_hub.add_repo("org/gone", {"g.gguf": GeneratedFile(100)})
    suite_for(root, f"{REPO}:Q4_K_M", "org/small", "org/gone")
    assert run_fetch(root, capsys)[0] == 0
    suite_for(root, f"{REPO}:Q4_K_M", "org/small")  # org/gone no longer referenced
    folder = hub_env / "models--org--pinned-GGUF"
    age(folder / "snapshots" / old_commit)
    old_blob = folder / "blobs" / hashlib.sha256(history[2]).hexdigest()
    partial = folder / "blobs" / "abc.123.incomplete"
    partial.write_bytes(b"x" * 10)
    options = build_options({}, root=str(root))

    assert commands.prune_models(options) == 0
    listed = capsys.readouterr().out
    assert f"snapshot          -  models--org--pinned-GGUF/snapshots/{old_commit}" in listed
    assert f"blob         3.0 kB  models--org--pinned-GGUF/blobs/{old_blob.name}" in listed
    assert "partial        10 B  models--org--pinned-GGUF/blobs/abc.123.incomplete" in listed
    assert "models--org--gone" not in listed, "whole repos only with --unreferenced"
    assert "3 item(s), 3.0 kB in" in listed and old_blob.exists(), "listing removes nothing"

    assert commands.prune_models(options, yes=True, unreferenced=True) == 0
    assert "removed 4 item(s)" in capsys.readouterr().out
    assert not old_blob.exists() and not partial.exists()
    assert not (folder / "snapshots" / old_commit).exists()
    assert not (hub_env / "models--org--gone").exists()
    assert llama_offline_lookup(hub_env, REPO, MODEL) == new.read(), "the current model intact"
    assert llama_offline_lookup(hub_env, "org/small", "small-Q8_0.gguf") is not None


def test_prune_keeps_the_locked_commit_and_fresh_snapshots(
    fake_hub: FakeHub, hub_env: Path, history: tuple[Path, str, bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, old_commit, pinned = history
    assert lock(root, capsys)[0] == 0 and run_fetch(root, capsys)[0] == 0
    fake_hub.add_repo(REPO, {MODEL: GeneratedFile(3100, 9),
                             "mmproj-f16.gguf": GeneratedFile(500, 2)})
    assert run_fetch(root, capsys)[0] == 0  # main moved; the lock still pins the old commit
    folder = hub_env / "models--org--pinned-GGUF"
    age(folder / "snapshots" / old_commit)
    assert commands.prune_models(build_options({}, root=str(root)), yes=True) == 0
    assert "removed 0 item(s)" in capsys.readouterr().out
    assert llama_offline_lookup(hub_env, REPO, MODEL) is not None
    assert (folder / "snapshots" / old_commit / MODEL).read_bytes() == pinned


def test_a_lock_path_that_is_a_folder_is_a_usage_error_before_any_request(
    fake_hub: FakeHub, history: tuple[Path, str, bytes], capsys: pytest.CaptureFixture[str],
) -> None:
    """Writing, `--check`, `--locked` and prune all say so the same way: exit 2 naming the
    option, before the Hub is asked anything, and nothing is left beside the folder."""
    root, _, _ = history
    folder = root / "locks"
    folder.mkdir()
    options = build_options({}, root=str(root), lock="locks")
    said = (f"error: {folder} is a directory, not a lock file: name a file with --lock FILE or "
            "`models: {lock: FILE}`\n")
    fake_hub.reset_counts()
    for run in (lambda: commands.lock_models(options),
                lambda: commands.lock_models(options, check=True),
                lambda: commands.fetch_models(build_options({}, root=str(root), lock="locks",
                                                            locked=True)),
                lambda: commands.prune_models(options)):
        assert run() == 2
        assert capsys.readouterr().err == said
    assert fake_hub.count() == 0, "no request"
    assert sorted(p.name for p in root.iterdir()) == ["locks", "tools"]
    assert list(folder.iterdir()) == []
    missing = build_options({}, root=str(root), lock="nowhere/models.lock")
    assert commands.lock_models(missing) == 2 and fake_hub.count() == 0
    assert f"its folder {root / 'nowhere'} does not exist" in capsys.readouterr().err


def test_every_reader_of_the_lock_applies_the_same_rules(
    fake_hub: FakeHub, hub_env: Path, history: tuple[Path, str, bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--locked`, `--check` and prune refuse the same locks, with the same message and exit 2
    before any request (a malformed lock is not "stale"), and read the same CRLF lock."""
    root, _, _ = history
    assert lock(root, capsys)[0] == 0
    path = root / "tools/server/tests/models.lock"
    good = path.read_text()
    options = build_options({}, root=str(root))
    readers = (lambda: commands.lock_models(options, check=True),
               lambda: commands.fetch_models(build_options({}, root=str(root), locked=True)),
               lambda: commands.prune_models(options))
    second = good.splitlines()[2]
    changed = second.replace(f"\t{MODEL}\t3000\t", f"\t{MODEL}\t3001\t")
    for text, said in ((good.replace("version\t1", "version\t9"), f"{path}:1: not a models.lock"),
                       (good + changed + "\n", f"{path}:5: {REPO}:Q4_K_M {MODEL} is pinned "
                                               "differently on line 3"),
                       (good + "garbage\n", f"{path}:5: expected 6 tab-separated fields"),
                       (good.replace("\t3000\t", "\t3\x0c0\t"), f"{path}:3: '3\\x0c0'")):
        path.write_text(text)
        fake_hub.reset_counts()
        for run in readers:
            assert run() == 2, text
            err = capsys.readouterr().err
            assert err.startswith(f"error: {said}") and "stale" not in err
        assert fake_hub.count() == 0
    path.write_bytes(good.replace("\n", "\r\n").encode())
    assert run_fetch(root, capsys, locked=True)[0] == 0
    assert commands.prune_models(options) == 0 and "0 item(s)" in capsys.readouterr().out
    code, out, _ = lock(root, capsys, check=True)
    assert code == 0 and "is up to date (3 files)" in out, "lines compared, not line ends"
    assert lock(root, capsys)[0] == 0 and path.read_bytes() == good.encode(), "written as LF"
    path.write_text(good + second + "\n")  # the same line twice: read, and stale
    assert run_fetch(root, capsys, locked=True)[0] == 0
    code, _, err = lock(root, capsys, check=True)
    assert code == 1 and "is stale" in err and f"    -{second}" in err
