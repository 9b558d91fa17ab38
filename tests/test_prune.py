"""What `models.prune` lists and removes, on hand-made caches: exactly the unneeded, never
what a fetch may be using, never anything outside the cache."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from filelock import FileLock

from scanner.cache import locks as cache_locks
from scanner.cli.commands import prune_models
from scanner.cli.options import build_options
from scanner.prune.unneeded import BUSY_SECONDS, PruneItem, apply, plan_prune
from tests.helpers import invoke_command, suite_for, write_suite

OLD, NEW, TAG = "a" * 40, "b" * 40, "c" * 40
SHA = "d" * 64
NOW = 1_000_000_000.0


def repo(cache: Path, name: str = "org/m", main: str = NEW) -> Path:
    folder = cache / ("models--" + name.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(main)
    (folder / "blobs").mkdir()
    return folder


def snapshot(folder: Path, commit: str, blobs: dict[str, bytes], when: float = NOW - 7200) -> Path:
    """A snapshot whose files link to blobs named by content, all last changed at `when`."""
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    for path, data in blobs.items():
        blob = folder / "blobs" / f"{len(data):04d}{data[:4].hex()}"
        blob.write_bytes(data)
        (snap / path).symlink_to(os.path.relpath(blob, snap))
        os.utime(blob, (when, when))
        os.utime(snap / path, (when, when), follow_symlinks=False)
    os.utime(snap, (when, when))
    return snap


def listed(items: list[PruneItem], cache: Path) -> list[tuple[str, str, int]]:
    return [(i.kind, str(i.path.relative_to(cache)), i.size) for i in items]


def test_old_snapshots_their_blobs_and_partials_are_listed_current_ones_kept(
    tmp_path: Path,
) -> None:
    folder = repo(tmp_path)
    snapshot(folder, OLD, {"m.gguf": b"old weights", "shared.gguf": b"same"})
    snapshot(folder, NEW, {"m.gguf": b"new weights!", "shared.gguf": b"same"})
    (folder / "blobs" / "e1.x.incomplete").write_bytes(b"12345")
    (folder / "blobs" / "00.downloadInProgress").write_bytes(b"llama.cpp resumes this")
    items = plan_prune(tmp_path, ["org/m"], {}, unreferenced=False, now=NOW)
    assert listed(items, tmp_path) == [
        ("snapshot", f"models--org--m/snapshots/{OLD}", 0),
        ("blob", f"models--org--m/blobs/0011{b'old '.hex()}", 11),
        ("partial", "models--org--m/blobs/e1.x.incomplete", 5),
    ]


def test_a_resumable_partial_counts_what_it_holds_on_disk(tmp_path: Path) -> None:
    """Our partials are sparse: a 100 MB file with 4 kB received frees 4 kB, not 100 MB."""
    folder = repo(tmp_path)
    snapshot(folder, NEW, {"m.gguf": b"weights"})
    partial = folder / "blobs" / f"{'a' * 64}.resume.incomplete"
    with partial.open("wb") as handle:
        handle.write(b"x" * 4096)
        handle.truncate(100_000_000)
    (item,) = plan_prune(tmp_path, ["org/m"], {}, unreferenced=False, now=NOW)
    on_disk = os.stat(partial).st_blocks * 512
    assert item.kind == "partial" and item.size == on_disk < 1_000_000


def test_locked_and_other_ref_commits_are_kept(tmp_path: Path) -> None:
    folder = repo(tmp_path)
    (folder / "refs" / "tags").mkdir()
    (folder / "refs" / "tags" / "v1").write_text(TAG)
    (folder / "refs" / "notes").mkdir()  # a folder among the refs is no ref
    for commit in (OLD, NEW, TAG):
        snapshot(folder, commit, {"m.gguf": commit.encode()})
    assert plan_prune(tmp_path, ["org/m"], {"org/m": {OLD}}, unreferenced=False, now=NOW) == []
    assert listed(plan_prune(tmp_path, ["org/m"], {}, unreferenced=False, now=NOW),
                  tmp_path)[0] == ("snapshot", f"models--org--m/snapshots/{OLD}", 0)


def test_a_snapshot_changed_within_the_hour_may_be_a_fetch_in_progress(tmp_path: Path) -> None:
    folder = repo(tmp_path)
    snap = snapshot(folder, OLD, {"m.gguf": b"x"}, when=NOW - BUSY_SECONDS)
    assert [i.kind for i in plan_prune(tmp_path, ["org/m"], {}, unreferenced=False,
                                       now=NOW)] == ["snapshot", "blob"], "exactly an hour old"
    os.utime(snap / "m.gguf", (NOW - 10, NOW - 10), follow_symlinks=False)  # a link just made
    assert plan_prune(tmp_path, ["org/m"], {}, unreferenced=False, now=NOW) == []


def test_unreferenced_repos_only_on_request_sized_by_their_blobs(tmp_path: Path) -> None:
    snapshot(repo(tmp_path, "org/gone"), NEW, {"g.gguf": b"x" * 100})
    kept = repo(tmp_path, "org/kept")
    snapshot(kept, NEW, {"k.gguf": b"y" * 10})
    snapshot(kept, OLD, {"k.gguf": b"y" * 10})  # same blob: only the snapshot goes
    (tmp_path / "models--not-a-folder").write_text("")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / "models--linked").symlink_to(outside)
    old = ("snapshot", f"models--org--kept/snapshots/{OLD}", 0)
    assert listed(plan_prune(tmp_path, ["org/kept"], {}, unreferenced=False, now=NOW),
                  tmp_path) == [old], "the repos after an unreferenced one are looked at too"
    items = plan_prune(tmp_path, ["org/kept"], {}, unreferenced=True, now=NOW)
    assert listed(items, tmp_path) == [("repo", "models--org--gone", 100 + 40), old]


def test_removal_skips_what_a_download_holds_and_never_follows_links(tmp_path: Path) -> None:
    folder = repo(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-precious"
    outside.mkdir()
    (outside / "keep.gguf").write_bytes(b"keep")
    (folder / "snapshots").mkdir()
    (folder / "snapshots" / OLD).symlink_to(outside)  # a snapshot that is a link out
    held = folder / "blobs" / "aa.1.incomplete"
    held.write_bytes(b"in flight")
    free = folder / "blobs" / "bb.2.incomplete"
    free.write_bytes(b"stale")
    gone = folder / "blobs" / "cc"  # listed, then removed by someone else before apply
    vanished = PruneItem("repo", tmp_path / "models--org--vanished", 1)  # rmtree fails: left
    items = [vanished, PruneItem("partial", held, 9), PruneItem("partial", free, 5),
             PruneItem("blob", gone, 1), PruneItem("snapshot", folder / "snapshots" / OLD, 0)]
    lock_dir = tmp_path / ".locks" / folder.name
    lock_dir.mkdir(parents=True)
    with FileLock(lock_dir / "aa.lock"):
        removed = apply(tmp_path, items)
    assert removed == items[2:], "the partial a live download holds is left, and what fails"
    assert oct(os.stat(lock_dir / "bb.lock").st_mode & 0o777) == oct(0o664), \
        "huggingface_hub's lock mode, so other users of a shared cache can lock too"
    assert held.exists() and not free.exists()
    assert not (folder / "snapshots" / OLD).is_symlink()
    assert (outside / "keep.gguf").read_bytes() == b"keep", "nothing outside the cache"


def test_a_commit_a_url_reference_pins_is_kept(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A URL pinned to a commit is fetched without a ref: its snapshot is still needed."""
    cache = tmp_path / "cache"
    folder = repo(cache)
    snapshot(folder, OLD, {"m.gguf": b"pinned by URL"})
    snapshot(folder, NEW, {"m.gguf": b"main now"})
    root = write_suite(tmp_path / "p", f"""
        URL = "https://huggingface.co/org/m/resolve/{OLD}/m.gguf"
        def test_a():
            s.model_hf_repo = "org/m"
    """)
    code = prune_models(build_options({}, root=str(root)), {"HF_HUB_CACHE": str(cache)})
    out = capsys.readouterr().out
    assert code == 0 and f"snapshots/{OLD}" not in out and "0 item(s)" in out


def prune_command(root: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`invoke models.prune` as a user runs it, on the cache at `cache`."""
    return subprocess.run(invoke_command("models.prune", "--root", str(root), *args),
                          env=dict(os.environ, HF_HUB_CACHE=str(cache), TERM="dumb"),
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("partial_name", [f"{SHA}.resume.incomplete", f"{SHA}.0badf00d.incomplete"],
                         ids=["ours", "huggingface_hub"])
def test_an_unreferenced_repo_a_download_writes_into_is_left_until_it_ends(
    tmp_path: Path, partial_name: str,
) -> None:
    """A download holds its blob's lock while it writes the partial (ours and `hf_hub_download`
    alike): the repo it writes into is left whole, said so, and removed once it has ended."""
    cache = tmp_path / "cache"
    snapshot(repo(cache), NEW, {"m.gguf": b"referenced"})
    gone = repo(cache, "org/gone")
    snapshot(gone, OLD, {"g.gguf": b"old weights"})
    partial = gone / "blobs" / partial_name
    with partial.open("wb") as handle:  # sparse, as ours are: 4 kB received of 100 MB
        handle.write(b"x" * 4096)
        handle.truncate(100_000_000)
    lock = cache / ".locks" / gone.name / f"{SHA}.lock"
    lock.parent.mkdir(parents=True)
    root = suite_for(tmp_path / "p", "org/m")
    with FileLock(lock):  # as the download writing `partial` holds it
        run = prune_command(root, cache, "--yes", "--unreferenced")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "MB  models--org--gone" not in run.stdout, "sized by what is on disk: 4 kB of 100 MB"
    assert f"left      models--org--gone: in use by a download (.locks/models--org--gone/" \
           f"{SHA}.lock is held)" in run.stdout
    assert f"removed 0 item(s), 0 B from {cache}; 1 in use by a download, left" in run.stdout
    assert partial.stat().st_size == 100_000_000 and lock.exists()
    assert (gone / "refs" / "main").read_text() == NEW, "nothing of the repo is removed"
    assert (gone / "snapshots" / OLD / "g.gguf").read_bytes() == b"old weights"
    assert "Traceback" not in run.stderr

    run = prune_command(root, cache, "--yes", "--unreferenced")  # the download has ended
    assert run.returncode == 0, run.stdout + run.stderr
    assert "removed 1 item(s), " in run.stdout and "in use" not in run.stdout
    assert not gone.exists()
    assert (cache / "models--org--m" / "snapshots" / NEW / "m.gguf").read_bytes() == b"referenced"


def test_a_repo_goes_whole_only_when_no_lock_of_it_is_held_and_never_follows_links(
    tmp_path: Path,
) -> None:
    """A lock held before its partial exists (huggingface_hub takes it, then opens the file)
    keeps the repo too; once free, the repo goes and what its links point at stays."""
    folder = repo(tmp_path, "org/gone")
    outside = tmp_path.parent / f"{tmp_path.name}-precious"
    outside.mkdir()
    (outside / "keep.gguf").write_bytes(b"keep")
    (folder / "snapshots").mkdir()
    (folder / "snapshots" / OLD).symlink_to(outside)
    (folder / "blobs" / "ee").write_bytes(b"blob")
    item = PruneItem("repo", folder, 4)
    lock = tmp_path / ".locks" / folder.name / f"{SHA}.lock"
    lock.parent.mkdir(parents=True)
    said: list[tuple[PruneItem, str]] = []
    with FileLock(lock):
        assert apply(tmp_path, [item], lambda left, held: said.append((left, held))) == []
    assert said == [(item, f".locks/{folder.name}/{SHA}.lock")]
    assert (folder / "blobs" / "ee").exists() and (folder / "refs" / "main").exists()
    linked = tmp_path / "models--org--linked-blobs"  # blobs/ a link out: unlinked only
    linked.mkdir()
    (linked / "blobs").symlink_to(outside)
    also = PruneItem("repo", linked, 0)
    assert apply(tmp_path, [item, also]) == [item, also]
    assert not folder.exists() and not linked.exists()
    assert (outside / "keep.gguf").read_bytes() == b"keep", "nothing outside the cache"
    assert lock.exists(), "lock files stay: a process may be waiting on one"


def download_starts_while_locks_are_taken(monkeypatch: pytest.MonkeyPatch, cache: Path,
                                          folder: Path, blob_id: str) -> FileLock:
    """Another run starts writing `blob_id` (its lock, then its partial) once prune has looked
    at the repo's blobs and locks, before it takes them: the lock that run holds."""
    download = FileLock(cache / ".locks" / folder.name / f"{blob_id}.lock")
    take_lock = cache_locks._lock

    def started_meanwhile(cache: Path, name: str, locked_id: str, timeout: float = -1) -> FileLock:
        if not download.is_locked:
            download.acquire()
            (folder / "blobs" / f"{blob_id}.resume.incomplete").write_bytes(b"new")
        return take_lock(cache, name, locked_id, timeout)

    monkeypatch.setattr(cache_locks, "_lock", started_meanwhile)
    return download


def test_a_partial_resumed_while_its_repo_is_pruned_keeps_the_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Our partial left by a killed run, its lock file gone with `.locks/`: the run resuming
    it takes the blob's lock (named by the id before the partial's suffix) and keeps it all."""
    folder = repo(tmp_path, "org/gone")
    snapshot(folder, OLD, {"g.gguf": b"old weights"})
    partial = folder / "blobs" / f"{SHA}.resume.incomplete"
    partial.write_bytes(b"half")
    download = download_starts_while_locks_are_taken(monkeypatch, tmp_path, folder, SHA)
    said: list[tuple[PruneItem, str]] = []
    item = PruneItem("repo", folder, 15)
    assert apply(tmp_path, [item], lambda left, held: said.append((left, held))) == []
    download.release()
    assert said == [(item, f".locks/{folder.name}/{SHA}.lock")]
    assert partial.read_bytes() == b"new" and (folder / "refs" / "main").read_text() == NEW
    assert (folder / "snapshots" / OLD / "g.gguf").read_bytes() == b"old weights"


def test_the_partial_of_a_download_started_while_its_repo_is_pruned_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new blob's download, begun after prune listed the repo's blobs: the repo is removed
    but for that partial, and counted as left."""
    folder = repo(tmp_path, "org/gone")
    snapshot(folder, OLD, {"g.gguf": b"old weights"})
    download = download_starts_while_locks_are_taken(monkeypatch, tmp_path, folder, SHA)
    assert apply(tmp_path, [PruneItem("repo", folder, 11)]) == []
    download.release()
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "blobs", f"blobs/{SHA}.resume.incomplete"]
