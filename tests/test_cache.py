"""The shared cache as llama.cpp and huggingface_hub lay it out: where it is (and the Hub
endpoint), what counts as cached, what an offline run can rebuild from it, and what clean-up
may remove."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest
from filelock import FileLock

from scanner.cache import layout as hf_cache
from scanner.cache import locks as cache_locks
from scanner.fetch.content import HASH_READ, check_content
from scanner.fetch.jobs import ListingOutcome
from scanner.fetch.plan import listed_blob_ids
from scanner.models import RepoFile, RepoListing
from scanner.setup import environment

REPO = "org/model"
COMMIT = "c" * 40


def blob(cache: Path, content: bytes, path: str, *, lfs: bool = True,
         commit: str = COMMIT) -> RepoFile:
    """Put `content` in blobs/ and link it from the snapshot, as huggingface_hub does."""
    folder = hf_cache.repo_folder(cache, REPO)
    sha = hashlib.sha256(content).hexdigest()
    name = sha if lfs else hashlib.sha1(content).hexdigest()
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    (folder / "blobs" / name).write_bytes(content)
    link = folder / "snapshots" / commit / path
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(folder / "blobs" / name, link.parent))
    return RepoFile(path=path, size=len(content), oid=name, sha256=sha if lfs else None)


@pytest.mark.parametrize(("env", "expected"), [
    ({"LLAMA_CACHE": "/l", "HF_HUB_CACHE": "/h", "HUGGINGFACE_HUB_CACHE": "/u", "HF_HOME": "/o",
      "XDG_CACHE_HOME": "/x"}, "/l"),
    ({"LLAMA_CACHE": "", "HF_HUB_CACHE": "/h", "HUGGINGFACE_HUB_CACHE": "/u"}, "/h"),
    ({"HUGGINGFACE_HUB_CACHE": "/u", "HF_HOME": "/o"}, "/u"),
    ({"HF_HOME": "/o", "XDG_CACHE_HOME": "/x"}, "/o/hub"),
    ({"XDG_CACHE_HOME": "/x"}, "/x/huggingface/hub"),
    ({}, str(Path.home() / ".cache/huggingface/hub")),
])
def test_cache_dir_follows_llama_cpps_order(env: dict[str, str], expected: str) -> None:
    assert environment.cache_dir(env) == Path(expected)
    assert environment.cache_dir(env, Path("/flag")) == Path("/flag")


def test_a_relative_cache_dir_is_made_absolute() -> None:
    assert environment.cache_dir({"LLAMA_CACHE": "rel"}) == Path.cwd() / "rel"


@pytest.mark.parametrize(("env", "expected"), [
    ({"MODEL_ENDPOINT": "http://mirror/", "HF_ENDPOINT": "http://hf"}, "http://mirror"),
    ({"MODEL_ENDPOINT": "", "HF_ENDPOINT": "http://hf//"}, "http://hf"),
    ({"HF_ENDPOINT": "http://hub.lan/X/"}, "http://hub.lan/X"),
    ({}, "https://huggingface.co"),
])
def test_endpoint_follows_llama_cpps_order(env: dict[str, str], expected: str) -> None:
    assert environment.endpoint(env) == expected


def test_refs_main_is_trusted_only_when_it_is_a_commit_hash(tmp_path: Path) -> None:
    refs = hf_cache.repo_folder(tmp_path, REPO) / "refs"
    assert hf_cache.read_ref(tmp_path, REPO) is None
    refs.mkdir(parents=True)
    for text, expected in ((f"{COMMIT}\n", COMMIT), ("C" * 40, None), ("c" * 39, None),
                           ("c" * 41, None), ("main", None), ("", None)):
        (refs / "main").write_text(text)
        assert hf_cache.read_ref(tmp_path, REPO) == expected, text


def test_write_ref_points_main_at_the_commit_and_leaves_nothing_else(tmp_path: Path) -> None:
    hf_cache.write_ref(tmp_path, REPO, COMMIT)
    refs = hf_cache.repo_folder(tmp_path, REPO) / "refs"
    assert (refs / "main").read_text() == COMMIT
    hf_cache.write_ref(tmp_path, REPO, "d" * 40)
    assert hf_cache.read_ref(tmp_path, REPO) == "d" * 40
    assert sorted(p.name for p in refs.iterdir()) == ["main"]


def test_is_cached_means_in_the_snapshot_with_the_listed_size(tmp_path: Path) -> None:
    file = blob(tmp_path, b"weights", "sub/model.gguf")
    assert hf_cache.is_cached(tmp_path, REPO, COMMIT, file)
    assert not hf_cache.is_cached(tmp_path, REPO, COMMIT, file.model_copy(update={"size": 8}))
    assert not hf_cache.is_cached(tmp_path, REPO, "d" * 40, file)
    os.remove(os.path.realpath(hf_cache.snapshot_path(tmp_path, REPO, COMMIT, file.path)))
    assert not hf_cache.is_cached(tmp_path, REPO, COMMIT, file), "a dangling link is not cached"


@pytest.mark.parametrize("lfs", [True, False], ids=["sha256", "git-blob"])
def test_a_cached_copy_is_checked_whole_across_read_chunks(tmp_path: Path, lfs: bool) -> None:
    data = os.urandom(HASH_READ * 2 + 17)
    (tmp_path / "big").write_bytes(data)
    oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    file = RepoFile(path="big", size=len(data), oid=oid,
                    sha256=hashlib.sha256(data).hexdigest() if lfs else None)
    assert check_content(tmp_path / "big", file, removed=False) is None
    (tmp_path / "big").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # the last byte differs
    assert check_content(tmp_path / "big", file, removed=False) == (
        f"content does not match the Hub's {'sha256' if lfs else 'git oid'} (expected "
        f"{(file.sha256 or oid)[:12]}, got {_id_of(tmp_path / 'big', lfs)[:12]})")


def _id_of(path: Path, lfs: bool) -> str:
    data = path.read_bytes()
    return (hashlib.sha256(data) if lfs else hashlib.sha1(b"blob %d\0" % len(data) + data)
            ).hexdigest()


def test_removing_a_bad_file_drops_its_link_and_its_blob_only(tmp_path: Path) -> None:
    bad = blob(tmp_path, b"bad", "bad.gguf")
    good = blob(tmp_path, b"good", "good.gguf")
    hf_cache.remove_cached_file(tmp_path, REPO, COMMIT, bad)
    blobs = hf_cache.repo_folder(tmp_path, REPO) / "blobs"
    assert sorted(p.name for p in blobs.iterdir()) == [good.oid]
    assert not hf_cache.snapshot_path(tmp_path, REPO, COMMIT, "bad.gguf").is_symlink()
    assert hf_cache.is_cached(tmp_path, REPO, COMMIT, good)


def test_removing_never_follows_a_link_out_of_the_repos_blobs(tmp_path: Path) -> None:
    outside = tmp_path / "precious.gguf"
    outside.write_bytes(b"keep me")
    link = hf_cache.snapshot_path(tmp_path, REPO, COMMIT, "model.gguf")
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    file = RepoFile(path="model.gguf", size=7, oid="x" * 40, sha256=None)
    hf_cache.remove_cached_file(tmp_path, REPO, COMMIT, file)
    assert outside.read_bytes() == b"keep me" and not link.is_symlink()


def test_stale_partials_go_live_ones_and_resumable_ones_stay(tmp_path: Path) -> None:
    folder = hf_cache.repo_folder(tmp_path, REPO)
    (folder / "blobs").mkdir(parents=True)
    live, stale = folder / "blobs/aaa.1.incomplete", folder / "blobs/bbb.2.incomplete"
    live.write_bytes(b"12345")
    stale.write_bytes(b"123")
    llama_partial = folder / "blobs/ccc.downloadInProgress"
    llama_partial.write_bytes(b"1")
    ours = folder / "blobs/000.resume.incomplete"  # no live writer, but the next run resumes it
    ours.write_bytes(b"12")
    lock_dir = tmp_path / ".locks" / folder.name
    lock_dir.mkdir(parents=True)
    with FileLock(lock_dir / "aaa.lock"):  # a download in progress: "aaa" sorts first
        assert cache_locks.remove_stale_partials(tmp_path, REPO) == [3]
    assert live.exists() and not stale.exists() and llama_partial.exists() and ours.exists()
    assert stat.S_IMODE((lock_dir / "bbb.lock").stat().st_mode) == 0o664, \
        "the lock mode huggingface_hub uses, so other users of a shared cache can lock too"


def test_only_our_partials_of_content_the_repo_no_longer_lists_go_unless_written(
    tmp_path: Path,
) -> None:
    blobs = hf_cache.repo_folder(tmp_path, REPO) / "blobs"
    blobs.mkdir(parents=True)
    listed, replaced, written = (blobs / f"{c * 64}.resume.incomplete" for c in "abc")
    theirs = blobs / f"{'d' * 64}.1.incomplete"  # huggingface_hub's: its own rule
    for partial in (listed, replaced, written, theirs):
        partial.write_bytes(b"123")
    lock = tmp_path / ".locks" / blobs.parent.name / f"{'c' * 64}.lock"
    lock.parent.mkdir(parents=True)
    with FileLock(lock):  # a download (another run, at another commit) is writing it
        assert cache_locks.remove_outdated_partials(tmp_path, REPO, {"a" * 64, "e" * 40}) == [3]
    assert listed.exists() and not replaced.exists() and written.exists() and theirs.exists()


def test_only_repos_the_hub_listed_whole_say_which_blobs_a_partial_may_be_of() -> None:
    def listing(repo: str, *ids: str) -> ListingOutcome:
        files = tuple(RepoFile(path=f"{i}.gguf", size=1, oid=i) for i in ids)
        return ListingOutcome(RepoListing(repo=repo, commit=COMMIT, files=files))

    outcomes = {("org/a", "main"): listing("org/a", "1"), ("org/a", COMMIT): listing("org/a", "2"),
                ("org/pinned", "main"): listing("org/pinned", "3"),
                ("org/cached", "main"): ListingOutcome(listing("org/cached", "4").listing,
                                                       hub_unavailable=True),
                ("org/failed", "main"): listing("org/failed", "5"),
                ("org/failed", COMMIT): ListingOutcome(None)}
    assert listed_blob_ids(outcomes, {"org/pinned"}) == {"org/a": {"1", "2"}}


def test_a_cached_listing_is_rebuilt_from_the_snapshot(tmp_path: Path) -> None:
    lfs = blob(tmp_path, b"gguf bytes", "q8/model.gguf")
    plain = blob(tmp_path, b"{}", "config.json", lfs=False)
    dangling = blob(tmp_path, b"gone", "a-gone.gguf")
    os.remove(os.path.realpath(hf_cache.snapshot_path(tmp_path, REPO, COMMIT, dangling.path)))
    listing = hf_cache.cached_listing(tmp_path, REPO, COMMIT)
    assert listing is not None and (listing.repo, listing.commit) == (REPO, COMMIT)
    assert listing.files == (plain, lfs), "sorted by path; a dangling link hides nothing else"
    assert hf_cache.cached_listing(tmp_path, REPO, "d" * 40) is None


def test_a_repos_folder_is_named_as_the_hub_names_it(tmp_path: Path) -> None:
    assert hf_cache.repo_folder(tmp_path, "ggml-org/tiny--x") == \
        tmp_path / "models--ggml-org--tiny--x"
    assert hf_cache.snapshot_path(tmp_path, REPO, COMMIT, "a/b.gguf") == \
        tmp_path / f"models--org--model/snapshots/{COMMIT}/a/b.gguf"


def test_removing_a_file_already_half_gone_is_not_an_error(tmp_path: Path) -> None:
    gone_blob = blob(tmp_path, b"one", "one.gguf")
    os.remove(os.path.realpath(hf_cache.snapshot_path(tmp_path, REPO, COMMIT, "one.gguf")))
    hf_cache.remove_cached_file(tmp_path, REPO, COMMIT, gone_blob)
    never_linked = RepoFile(path="two.gguf", size=3, oid="b" * 64, sha256="b" * 64)
    hf_cache.remove_cached_file(tmp_path, REPO, COMMIT, never_linked)
    assert list((hf_cache.repo_folder(tmp_path, REPO) / "snapshots" / COMMIT).iterdir()) == []


def test_a_cache_not_yet_created_is_writable_where_it_would_be_created(tmp_path: Path) -> None:
    assert hf_cache.nearest_existing(tmp_path / "not" / "yet") == tmp_path
    assert hf_cache.nearest_existing(tmp_path) == tmp_path
    assert hf_cache.writable(tmp_path / "not" / "yet")
    assert not (tmp_path / "not").exists(), "asking creates nothing"


def test_a_blob_cached_under_another_commit_is_found_and_linked_relatively(
    tmp_path: Path,
) -> None:
    lfs = blob(tmp_path, b"gguf weights", "q8/model.gguf")
    small = blob(tmp_path, b"{}", "config.json", lfs=False)
    assert hf_cache.cached_blob(tmp_path, REPO, lfs) == \
        hf_cache.repo_folder(tmp_path, REPO) / "blobs" / str(lfs.sha256)
    assert hf_cache.cached_blob(tmp_path, REPO, small) is not None, "git blob id for small files"
    assert hf_cache.cached_blob(tmp_path, REPO, lfs.model_copy(update={"size": 1})) is None
    assert hf_cache.cached_blob(tmp_path, "org/other", lfs) is None
    new = "d" * 40
    found = hf_cache.cached_blob(tmp_path, REPO, lfs)
    assert found is not None
    hf_cache.link_blob(tmp_path, REPO, new, lfs, found)
    hf_cache.link_blob(tmp_path, REPO, new, lfs, found)  # again: replaced, not an error
    link = hf_cache.snapshot_path(tmp_path, REPO, new, "q8/model.gguf")
    assert os.readlink(link) == f"../../../blobs/{lfs.sha256}", "relative, as huggingface_hub"
    assert link.read_bytes() == b"gguf weights"
    assert sorted(p.name for p in link.parent.iterdir()) == ["model.gguf"], "no temporary left"


def test_a_download_takes_huggingface_hubs_lock_for_its_blob_from_any_thread(
    tmp_path: Path,
) -> None:
    lfs = RepoFile(path="m.gguf", size=3, oid="1" * 40, sha256="2" * 64)
    small = RepoFile(path="README.md", size=3, oid="3" * 40, sha256=None)
    lock = cache_locks.blob_lock(tmp_path, REPO, lfs)
    folder = hf_cache.repo_folder(tmp_path, REPO).name
    assert Path(lock.lock_file) == tmp_path / ".locks" / folder / f"{'2' * 64}.lock"
    assert Path(cache_locks.blob_lock(tmp_path, REPO, small).lock_file).name == f"{'3' * 40}.lock"
    lock.acquire()
    released = threading.Thread(target=lock.release)  # the thread that stores the file
    released.start()
    released.join()
    with FileLock(lock.lock_file, timeout=0):  # huggingface_hub's side: free again
        pass
    assert stat.S_IMODE(Path(lock.lock_file).stat().st_mode) == 0o664


def test_a_stored_download_is_a_blob_named_by_its_id_and_a_relative_snapshot_link(
    tmp_path: Path,
) -> None:
    file = RepoFile(path="sub/m.gguf", size=3, oid="1" * 40, sha256="2" * 64)
    partial = hf_cache.resumable_partial(tmp_path, REPO, file)
    assert partial.name == f"{'2' * 64}.resume.incomplete"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"abc")
    hf_cache.store_blob(partial, tmp_path, REPO, COMMIT, file)
    blob = hf_cache.blob_path(tmp_path, REPO, file)
    link = hf_cache.snapshot_path(tmp_path, REPO, COMMIT, file.path)
    assert not partial.exists() and blob.read_bytes() == b"abc"
    assert os.readlink(link) == f"../../../blobs/{'2' * 64}" and link.read_bytes() == b"abc"


def test_a_blobs_entry_goes_only_when_nobody_holds_its_lock(tmp_path: Path) -> None:
    blobs = hf_cache.repo_folder(tmp_path, REPO) / "blobs"
    blobs.mkdir(parents=True)
    held, free = blobs / "aa.1.incomplete", blobs / "bb"
    held.write_bytes(b"written now")
    free.write_bytes(b"stale")
    lock_dir = tmp_path / ".locks" / blobs.parent.name
    lock_dir.mkdir(parents=True)
    with FileLock(lock_dir / "aa.lock"):
        assert cache_locks.remove_unless_locked(tmp_path, held) is False
        assert cache_locks.remove_unless_locked(tmp_path, free) is True
    assert held.exists() and not free.exists()
    assert cache_locks.remove_unless_locked(tmp_path, free) is True, "already gone counts as gone"


def test_waiting_for_a_blob_lock_says_once_whose_lock_and_gives_up_when_stopped(
    tmp_path: Path,
) -> None:
    file = RepoFile(path="m.gguf", size=3, oid="1" * 40, sha256="2" * 64)
    held = FileLock(cache_locks.blob_lock(tmp_path, REPO, file).lock_file)
    said: list[str] = []
    polls = iter([False, False, True])  # Ctrl-C on the third look
    with held:  # another process (hf download, say) is writing the blob
        lock = cache_locks.wait_for_blob_lock(tmp_path, REPO, file, poll=0.01,
                                           stopped=lambda: next(polls), waiting=said.append)
    assert lock is None
    assert said == [f".locks/models--org--model/{'2' * 64}.lock"]
    lock = cache_locks.wait_for_blob_lock(tmp_path, REPO, file, poll=0.01, stopped=lambda: True,
                                       waiting=said.append)
    assert lock is not None and lock.is_locked, "a free lock is taken at once"
    assert len(said) == 1, "no wait, nothing said"
    lock.release()


def test_a_blob_another_process_stored_meanwhile_is_adopted(tmp_path: Path) -> None:
    file = RepoFile(path="m.gguf", size=3, oid="1" * 40, sha256="2" * 64)
    partial = hf_cache.resumable_partial(tmp_path, REPO, file)
    assert hf_cache.adopt_stored_blob(tmp_path, REPO, COMMIT, file) is False
    assert not hf_cache.repo_folder(tmp_path, REPO).exists(), "nothing made when not stored"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"a")  # ours, from an earlier run
    hf_cache.blob_path(tmp_path, REPO, file).write_bytes(b"abc")
    assert hf_cache.adopt_stored_blob(tmp_path, REPO, COMMIT, file) is True
    assert hf_cache.snapshot_path(tmp_path, REPO, COMMIT, file.path).read_bytes() == b"abc"
    assert not partial.exists(), "our partial is of no use now"
    assert hf_cache.adopt_stored_blob(tmp_path, REPO, "d" * 40, file) is True, "none to drop"


def test_a_partial_gone_since_the_listing_is_no_stale_partial(tmp_path: Path) -> None:
    """A live `hf download` renames its partial between our listing and our look at it (here:
    a link to nothing): skipped, not an error; the other stale partials still go."""
    blobs = hf_cache.repo_folder(tmp_path, REPO) / "blobs"
    blobs.mkdir(parents=True)
    (blobs / "aa.1.incomplete").symlink_to(blobs / "finished-meanwhile")
    (blobs / "bb.2.incomplete").write_bytes(b"stale")
    assert cache_locks.remove_stale_partials(tmp_path, REPO) == [5]
    assert not (blobs / "bb.2.incomplete").exists()


def test_a_snapshot_that_lost_a_file_is_no_refs_any_more_and_other_refs_stay(
    tmp_path: Path,
) -> None:
    refs = hf_cache.repo_folder(tmp_path, REPO) / "refs"
    other = "d" * 40
    for ref, commit in (("main", COMMIT), ("pr/1", COMMIT), ("v1", other), ("junk", "main")):
        (refs / ref).parent.mkdir(parents=True, exist_ok=True)
        (refs / ref).write_text(commit)
    hf_cache.drop_refs_to(tmp_path, REPO, COMMIT)
    assert sorted(p.relative_to(refs).as_posix() for p in refs.rglob("*") if p.is_file()) == [
        "junk", "v1"], "every ref to the commit goes (a nested one too), no other ref"
    assert hf_cache.read_ref(tmp_path, REPO) is None
    assert hf_cache.read_ref(tmp_path, REPO, "v1") == other
    hf_cache.drop_refs_to(tmp_path, "org/never-cached", COMMIT)  # no refs/: nothing to do
    assert not hf_cache.repo_folder(tmp_path, "org/never-cached").exists()


def test_a_ref_another_run_drops_meanwhile_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two runs that found the same bad file both drop its snapshot's refs."""
    hf_cache.write_ref(tmp_path, REPO, COMMIT)
    read_ref = hf_cache.read_ref

    def read_then_dropped_elsewhere(cache: Path, repo: str, ref: str = "main") -> str | None:
        commit = read_ref(cache, repo, ref)
        (hf_cache.repo_folder(cache, repo) / "refs" / ref).unlink()
        return commit

    monkeypatch.setattr(hf_cache, "read_ref", read_then_dropped_elsewhere)
    hf_cache.drop_refs_to(tmp_path, REPO, COMMIT)
    assert not (hf_cache.repo_folder(tmp_path, REPO) / "refs" / "main").exists()


def test_the_cached_copy_is_what_the_snapshot_leads_to_else_the_blob_named_by_the_id(
    tmp_path: Path,
) -> None:
    linked = blob(tmp_path, b"linked bytes", "sub/linked.gguf")
    assert hf_cache.cached_copy(tmp_path, REPO, COMMIT, linked) == (linked.oid, 12)
    renamed = linked.model_copy(update={"oid": "e" * 64, "sha256": "e" * 64})
    assert hf_cache.cached_copy(tmp_path, REPO, COMMIT, renamed) == (linked.oid, 12), \
        "the blob the link leads to, whatever id the file is given"
    copy = hf_cache.snapshot_path(tmp_path, REPO, COMMIT, "copy.gguf")  # a user's own copy
    copy.write_bytes(b"copied")
    as_copied = RepoFile(path="copy.gguf", size=6, oid="f" * 64, sha256="f" * 64)
    assert hf_cache.cached_copy(tmp_path, REPO, COMMIT, as_copied) == (None, 6), \
        "a copy outside blobs/ has no id in its name"
    unlinked = linked.model_copy(update={"path": "not-in-the-snapshot.gguf"})
    assert hf_cache.cached_copy(tmp_path, REPO, COMMIT, unlinked) == (linked.oid, 12), \
        "not in this snapshot: the blob named after the file's id"
    too_long = linked.model_copy(update={"path": "x" * 300 + ".gguf"})  # no such name on disk
    assert hf_cache.cached_copy(tmp_path, REPO, COMMIT, too_long) == (linked.oid, 12)
    absent = RepoFile(path="absent.gguf", size=1, oid="a" * 64, sha256="a" * 64)
    assert hf_cache.cached_copy(tmp_path, REPO, COMMIT, absent) is None
    assert hf_cache.cached_copy(tmp_path, REPO, COMMIT, absent.model_copy(
        update={"path": "sub"})) is None, "a folder (sub/) is no copy"


def test_a_partial_that_goes_frees_what_it_held_on_disk_not_its_length(tmp_path: Path) -> None:
    blobs = hf_cache.repo_folder(tmp_path, REPO) / "blobs"
    blobs.mkdir(parents=True)
    sparse = blobs / f"{'a' * 64}.resume.incomplete"
    with sparse.open("wb") as handle:  # 4 kB received of 10 MB, as ours are written
        handle.write(b"x" * 4096)
        handle.truncate(10_000_000)
    on_disk = sparse.stat().st_blocks * 512
    assert 0 < on_disk < 10_000_000
    assert cache_locks.remove_outdated_partials(tmp_path, REPO, set()) == [on_disk]
    assert not sparse.exists()
