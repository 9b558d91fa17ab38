"""`models.fetch --locked` when the lock disagrees with the cache or the Hub: the model fails
with a message that says whose value is whose and how to fix the lock; no blob whose bytes match
its name is deleted, no partial is left that no rerun can finish, and `refs/main` never points
at a snapshot that lacks a file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from scanner.cli import commands
from scanner.cli.options import build_options
from tests.fakehub import FakeHub, Fault, GeneratedFile
from tests.helpers import llama_offline_lookup, llama_snapshot, run_fetch, suite_for

REPO = "org/pinned-GGUF"
MODEL = "pinned-Q4_K_M.gguf"
SIZE = 200_000


@pytest.fixture
def locked(fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
           capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, bytes]:
    """A suite of two models and its lock; returns (root, the lock, the pinned bytes)."""
    pinned = GeneratedFile(SIZE, 1)
    fake_hub.add_repo(REPO, {MODEL: pinned})
    fake_hub.add_repo("org/small", {"small-Q8_0.gguf": GeneratedFile(700)})
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M", "org/small")
    assert commands.lock_models(build_options({}, root=str(root))) == 0
    capsys.readouterr()
    return root, root / "tools/server/tests/models.lock", pinned.read()


def cache_state(cache: Path) -> list[tuple[str, str]]:
    """Every entry of the cache with what it holds: a link's target, a file's digest."""
    def held(path: Path) -> str:
        if path.is_symlink():
            return os.readlink(path)
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return sorted((str(p.relative_to(cache)), held(p)) for p in cache.rglob("*")
                  if ".locks" not in p.parts)


def repo_blobs(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "models--org--pinned-GGUF/blobs").iterdir())


def test_a_wrong_sha256_in_the_lock_fails_warm_or_cold_and_deletes_nothing(
    fake_hub: FakeHub, hub_env: Path, locked: tuple[Path, Path, bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, lock, pinned = locked
    assert run_fetch(root, capsys, locked=True)[0] == 0
    real = hashlib.sha256(pinned).hexdigest()
    lock.write_text(lock.read_text().replace(real, "e" * 64))
    before = cache_state(hub_env)
    said = (f"{REPO} {MODEL}: the lock says sha256 eeeeeeeeeeee (size {SIZE}), the cached file "
            f"is {real[:12]} (size {SIZE}): run `fetch-test-models models.lock` to update {lock}, "
            "or fix it")
    fake_hub.reset_counts()
    for flags in ({}, {"verify": True}, {"offline": True}, {"dry_run": True}):
        code, out, _ = run_fetch(root, capsys, locked=True, **flags)
        assert code == 1, flags
        assert said in " ".join(out.split()), out
        assert "the Hub's" not in out
        assert cache_state(hub_env) == before, f"{flags}: nothing removed or downloaded"
        assert llama_offline_lookup(hub_env, REPO, MODEL) == pinned
    assert fake_hub.count(kind="resolve") == 0

    cold = hub_env.parent / "cold"
    code, out, _ = run_fetch(root, capsys, locked=True, cache_dir=str(cold))
    assert code == 1
    assert (f"{REPO} {MODEL}: content does not match the lock's sha256 (expected eeeeeeeeeeee, "
            f"got {real[:12]}); removed from the cache; the lock and the Hub disagree: run "
            f"`fetch-test-models models.lock` to update {lock}, or fix it") in " ".join(out.split())
    assert repo_blobs(cold) == [] and llama_snapshot(cold, REPO, MODEL) is None


def test_a_wrong_size_in_the_lock_is_one_clear_error_and_leaves_no_partial(
    fake_hub: FakeHub, hub_env: Path, locked: tuple[Path, Path, bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, lock, pinned = locked
    good = lock.read_text()
    lock.write_text(good.replace(f"\t{SIZE}\t", f"\t{SIZE + 1}\t"))
    said = (f"{REPO} {MODEL}: the lock says size {SIZE + 1}, the Hub's file is {SIZE} bytes: the "
            f"lock and the Hub disagree; run `fetch-test-models models.lock` to update {lock}, "
            "or fix it")
    for _ in range(2):  # the rerun says the same: nothing was kept to resume
        code, out, _ = run_fetch(root, capsys, locked=True)
        assert code == 1 and said in " ".join(out.split()), out
        assert "resum" not in out and "kept" not in out
        assert repo_blobs(hub_env) == [], "no partial"
        assert not (hub_env / "models--org--pinned-GGUF/refs").exists()

    lock.write_text(good)
    assert run_fetch(root, capsys, locked=True)[0] == 0
    lock.write_text(good.replace(f"\t{SIZE}\t", f"\t{SIZE + 1}\t"))
    before = cache_state(hub_env)
    fake_hub.reset_counts()
    code, out, _ = run_fetch(root, capsys, locked=True)
    real = hashlib.sha256(pinned).hexdigest()[:12]
    assert code == 1 and (f"the lock says sha256 {real} (size {SIZE + 1}), the cached file is "
                          f"{real} (size {SIZE})") in " ".join(out.split())
    assert fake_hub.count() == 0 and cache_state(hub_env) == before, "no download, no partial"
    assert llama_offline_lookup(hub_env, REPO, MODEL) == pinned


def test_verify_keeps_a_blob_that_matches_its_name_and_no_ref_points_at_a_half_snapshot(
    fake_hub: FakeHub, hub_env: Path, locked: tuple[Path, Path, bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A snapshot link that leads to another sound blob: the link goes, the blob stays; while
    the file cannot be fetched again, `refs/main` does not point at the snapshot lacking it."""
    root, _, pinned = locked
    assert run_fetch(root, capsys)[0] == 0
    folder = hub_env / "models--org--pinned-GGUF"
    other = GeneratedFile(SIZE, 7).read()
    sound = folder / "blobs" / hashlib.sha256(other).hexdigest()
    sound.write_bytes(other)
    link = llama_snapshot(hub_env, REPO, MODEL)
    assert link is not None
    Path(os.path.realpath(link)).unlink()  # the right blob is gone: it must be fetched
    link.unlink()
    link.symlink_to(f"../../blobs/{sound.name}")
    fake_hub.add_fault("/resolve/", Fault("status", code=404), times=1)
    code, out, _ = run_fetch(root, capsys, verify=True, latest=True)  # the Hub's listing
    assert code == 1 and "cached copy content does not match the Hub's sha256" in out
    assert sound.read_bytes() == other, "a blob that matches its name is never deleted"
    assert not (folder / "refs/main").exists(), "no ref to a snapshot that lacks a file"
    assert run_fetch(root, capsys, verify=True, latest=True)[0] == 0
    assert llama_offline_lookup(hub_env, REPO, MODEL) == pinned


def test_a_lock_in_place_pins_the_models_it_names_without_asking_the_hub(
    fake_hub: FakeHub, hub_env: Path, locked: tuple[Path, Path, bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As Cargo.lock: a warm run with the lock asks nothing; a model the lock lacks is listed
    as usual (not refused, as `--locked` would); `--latest` asks the Hub for main."""
    root, lock, pinned = locked
    assert run_fetch(root, capsys)[0] == 0
    fake_hub.requests.clear()
    code, out, _ = run_fetch(root, capsys)
    assert code == 0 and fake_hub.requests == []
    assert "2 cached" in out
    fake_hub.add_repo("org/new", {"new-Q8_0.gguf": GeneratedFile(500)})
    widened = suite_for(root, f"{REPO}:Q4_K_M", "org/small", "org/new")
    assert run_fetch(widened, capsys)[0] == 0
    assert [r.path.split("/")[4] for r in fake_hub.requests if r.kind == "tree"] == ["new"]
    fake_hub.requests.clear()
    assert run_fetch(widened, capsys, latest=True)[0] == 0
    assert len([r for r in fake_hub.requests if r.kind == "tree"]) == 3
    assert llama_offline_lookup(hub_env, REPO, MODEL) == pinned
    assert lock.exists()
