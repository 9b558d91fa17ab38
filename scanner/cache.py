"""The shared Hugging Face cache, located and read the way llama.cpp does.

llama.cpp (`common/hf-cache.cpp`) and huggingface_hub share one layout:
`models--org--name/{refs/main, blobs/<sha256>, snapshots/<commit>/<path>}`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Collection
from contextlib import ExitStack
from pathlib import Path

from filelock import FileLock, Timeout

from . import atomic
from .models import RepoFile, RepoListing

#: Our partial downloads, kept for the next run to resume (`fetch/partial.py`).
RESUMABLE_SUFFIX = ".resume.incomplete"
_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_commit(text: str) -> bool:
    """A full commit hash (also what a git blob id looks like)."""
    return bool(_COMMIT.fullmatch(text))


def is_sha256(text: str) -> bool:
    return bool(_SHA256.fullmatch(text))


def repo_folder(cache: Path, repo: str) -> Path:
    return cache / ("models--" + repo.replace("/", "--"))


def read_ref(cache: Path, repo: str, ref: str = "main") -> str | None:
    """The commit a ref points at in the cache, as llama.cpp reads it offline."""
    try:
        commit = (repo_folder(cache, repo) / "refs" / ref).read_text().strip()
    except OSError:
        return None
    return commit if is_commit(commit) else None


def write_ref(cache: Path, repo: str, commit: str, ref: str = "main") -> None:
    """Point `refs/<ref>` at `commit` atomically (readers never see a half-written ref); a ref
    that already says so is left alone, so a warm cache is never written to (it may be a
    read-only mount shared by CI runners)."""
    if read_ref(cache, repo, ref) == commit:
        return
    refs = repo_folder(cache, repo) / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    atomic.write_text(refs / ref, commit)


def nearest_existing(path: Path) -> Path:
    """`path`, or its closest existing parent: where a cache not yet created would go."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def writable(cache: Path) -> bool:
    """Whether files can be created in the cache (or where it would be created): `access(2)`
    also answers for a read-only mount, even to root."""
    return os.access(nearest_existing(cache), os.W_OK)


def snapshot_path(cache: Path, repo: str, commit: str, path: str) -> Path:
    return repo_folder(cache, repo) / "snapshots" / commit / path


def is_cached(cache: Path, repo: str, commit: str, file: RepoFile) -> bool:
    """In the snapshot with the size the Hub lists: what a warm run trusts without hashing."""
    try:
        return snapshot_path(cache, repo, commit, file.path).stat().st_size == file.size
    except OSError:
        return False


def blob_path(cache: Path, repo: str, file: RepoFile) -> Path:
    """Blobs are named by sha256, or by git blob id for small files (huggingface_hub names them
    after the ETag, which the Hub sets to the same ids)."""
    return repo_folder(cache, repo) / "blobs" / file.blob_id


def blob_lock(cache: Path, repo: str, file: RepoFile) -> FileLock:
    """The lock huggingface_hub takes around writing this blob (see `_lock`)."""
    return _lock(cache, repo_folder(cache, repo).name, file.blob_id)


def wait_for_blob_lock(cache: Path, repo: str, file: RepoFile, *, poll: float,
                       stopped: Callable[[], bool],
                       waiting: Callable[[str], None]) -> FileLock | None:
    """The blob's lock, waited for while another process (ours, `hf download`) writes the
    blob; None once `stopped()` says to give up. `waiting` is told the lock's path once: a long
    wait is a slow phase of its own."""
    lock = blob_lock(cache, repo, file)
    told = False
    while True:
        try:
            lock.acquire(timeout=poll)
            return lock
        except Timeout:
            if stopped():
                return None
            if not told:
                waiting(str(Path(lock.lock_file).relative_to(cache)))
                told = True


def adopt_stored_blob(cache: Path, repo: str, commit: str, file: RepoFile) -> bool:
    """When another process stored the blob meanwhile: link it into the snapshot and drop a
    partial of ours, of no use now (the caller holds the blob's lock). False if not stored."""
    blob = cached_blob(cache, repo, file)
    if blob is None:
        return False
    link_blob(cache, repo, commit, file, blob)
    resumable_partial(cache, repo, file).unlink(missing_ok=True)
    return True


def _lock(cache: Path, folder: str, blob_id: str, timeout: float = -1) -> FileLock:
    """`.locks/<repo folder>/<blob id>.lock`: an `flock`, mode 0664 so that users sharing a
    cache can wait on it. Not bound to a thread: the thread that stores a download may not be
    the one that took the lock."""
    path = cache / ".locks" / folder / f"{blob_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path, timeout=timeout, mode=0o664, thread_local=False)


def remove_unless_locked(cache: Path, entry: Path) -> bool:
    """Delete a `blobs/` entry (a blob or a partial, named `<blob id>[.…]`) unless a live
    process holds its lock, i.e. is writing it; whether it went."""
    try:
        with _lock(cache, entry.parent.parent.name, entry.name.split(".", 1)[0], timeout=0):
            entry.unlink(missing_ok=True)
    except OSError:  # filelock's Timeout too: in use
        return False
    return True


def remove_repo_unless_locked(cache: Path, folder: Path) -> str | None:
    """Delete a whole repo folder unless a live process holds a lock of one of its blobs (it is
    downloading into it); the lock held (relative to the cache), or None once it is gone.

    Every lock of the repo is taken before anything goes, and held to the end: nothing is
    removed from a repo a download writes into (not even the `refs/main` huggingface_hub wrote
    first), and no download of those blobs starts meanwhile. `blobs/` is emptied entry by entry
    and removed only when empty, so the partial of a new blob's download that started meanwhile
    stays (an OSError says so). Lock files stay: a process may be waiting on one.
    """
    blobs = folder / "blobs"
    real_blobs = blobs.is_dir() and not blobs.is_symlink()  # a link out is only unlinked
    entries = sorted(blobs.iterdir()) if real_blobs else []
    locked = {p.name.removesuffix(".lock") for p in (cache / ".locks" / folder.name).glob("*.lock")}
    with ExitStack() as held:
        for blob_id in sorted(locked | {entry.name.split(".", 1)[0] for entry in entries}):
            lock = _lock(cache, folder.name, blob_id, timeout=0)
            try:
                held.enter_context(lock)
            except Timeout:
                return str(Path(lock.lock_file).relative_to(cache))
        for child in sorted(folder.iterdir()):  # refs, snapshots: links go, never followed
            if child != blobs or not real_blobs:
                _remove_tree(child)
        for entry in entries:
            _remove_tree(entry)
        if real_blobs:
            blobs.rmdir()
        folder.rmdir()
    return None


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)  # does not follow links: nothing outside the cache is touched
    else:
        path.unlink()


def resumable_partial(cache: Path, repo: str, file: RepoFile) -> Path:
    blob = blob_path(cache, repo, file)
    return blob.with_name(blob.name + RESUMABLE_SUFFIX)


def store_blob(partial: Path, cache: Path, repo: str, commit: str, file: RepoFile) -> None:
    """A complete, checked download enters `blobs/` by rename (never half there), then the
    snapshot. The partial was created under the process umask, as huggingface_hub's are."""
    blob = blob_path(cache, repo, file)
    os.replace(partial, blob)
    link_blob(cache, repo, commit, file, blob)


def cached_blob(cache: Path, repo: str, file: RepoFile) -> Path | None:
    """The blob of `file` already in the cache under another commit (blobs are named by sha256,
    or by git blob id for small files), with the size the Hub lists; None when it is not."""
    blob = blob_path(cache, repo, file)
    try:
        return blob if blob.stat().st_size == file.size else None
    except OSError:
        return None


def cached_copy(cache: Path, repo: str, commit: str,
                file: RepoFile) -> tuple[str | None, int] | None:
    """What the cache holds for `file` at `commit`: the file its snapshot entry leads to, else
    the blob named after `file`'s id; as (the name of that blob, or None for a copy outside
    `blobs/`, which has no id in its name) and its size. None when neither is there."""
    blobs = Path(os.path.realpath(repo_folder(cache, repo) / "blobs"))
    for path in (snapshot_path(cache, repo, commit, file.path), blob_path(cache, repo, file)):
        try:
            if not path.is_file():
                continue
            size = path.stat().st_size
        except OSError:
            continue
        target = Path(os.path.realpath(path))
        return (target.name if target.parent == blobs else None), size
    return None


def link_blob(cache: Path, repo: str, commit: str, file: RepoFile, blob: Path) -> None:
    """Put an existing blob in a snapshot, as huggingface_hub does for a file it already has: a
    relative symlink, made under a temporary name and renamed, so it is never half there."""
    link = snapshot_path(cache, repo, commit, file.path)
    link.parent.mkdir(parents=True, exist_ok=True)
    atomic.replace_atomically(link, lambda temporary: temporary.symlink_to(
        os.path.relpath(blob, link.parent)))


def remove_cached_file(cache: Path, repo: str, commit: str, file: RepoFile, *,
                       unless_blob: str | None = None) -> None:
    """Drop a file that failed its check: the snapshot link and the blob it points at, unless
    that blob is named `unless_blob`, the id of the bytes found: a blob that matches its own
    name is sound (another commit's, or another id than the listing gave), only the link was
    wrong. The blob is named after the Hub's ETag, which need not be the listing's id (that
    mismatch is one way to fail the check), so the link is followed rather than the name built.
    """
    link = snapshot_path(cache, repo, commit, file.path)
    blob = Path(os.path.realpath(link))
    link.unlink(missing_ok=True)
    in_blobs = blob.parent == Path(os.path.realpath(repo_folder(cache, repo) / "blobs"))
    if in_blobs and blob.name != unless_blob:
        blob.unlink(missing_ok=True)


def drop_refs_to(cache: Path, repo: str, commit: str) -> None:
    """Remove every ref that points at `commit` (its snapshot lost a file): llama.cpp's
    offline lookup then finds no snapshot rather than half of one. The fetch that completes
    the snapshot writes again the ref it resolved through (`finish_plans`)."""
    refs = repo_folder(cache, repo) / "refs"
    for ref in sorted(refs.rglob("*")) if refs.is_dir() else []:
        if ref.is_file() and read_ref(cache, repo, ref.relative_to(refs).as_posix()) == commit:
            ref.unlink(missing_ok=True)


def remove_stale_partials(cache: Path, repo: str) -> list[int]:
    """Delete huggingface_hub's `blobs/*.incomplete` that no live process is writing; returns
    their sizes.

    huggingface_hub names a partial `<etag>.<random>.incomplete` per call, writes it only while
    holding `.locks/<repo folder>/<etag>.lock`, and never resumes it: one whose lock can be
    taken at once was left by a killed run. Our own resumable partials and llama.cpp's
    (`.downloadInProgress`) are resumed by the next run: not touched.
    """
    blobs = repo_folder(cache, repo) / "blobs"
    return _remove_unlocked(cache, [partial for partial in sorted(blobs.glob("*.incomplete"))
                                    if not partial.name.endswith(RESUMABLE_SUFFIX)])


def remove_outdated_partials(cache: Path, repo: str, listed: Collection[str]) -> list[int]:
    """Delete our resumable partials of `repo` whose blob id no file in `listed` (every blob id
    of the repo's listings) has, and that no live process is writing; returns the bytes each
    took on disk. The Hub changed that file since (new bytes, new id): nothing resumes them."""
    blobs = repo_folder(cache, repo) / "blobs"
    return _remove_unlocked(cache, [
        partial for partial in sorted(blobs.glob("*" + RESUMABLE_SUFFIX))
        if partial.name.removesuffix(RESUMABLE_SUFFIX) not in listed])


def _remove_unlocked(cache: Path, partials: list[Path]) -> list[int]:
    """Delete the partials whose lock can be taken at once; the bytes each took on disk (ours
    are sparse)."""
    sizes = []
    for partial in partials:
        try:
            stat = partial.stat()
        except OSError:  # its download finished (renamed it) since the listing: not stale
            continue
        if remove_unless_locked(cache, partial):
            sizes.append(min(stat.st_size, stat.st_blocks * 512))
    return sizes


def cached_listing(cache: Path, repo: str, commit: str) -> RepoListing | None:
    """A listing rebuilt from the snapshot folder, for offline runs and unreachable Hubs.

    Blob names give the sha256 of LFS files, so cached files can still be checked.
    """
    root = repo_folder(cache, repo) / "snapshots" / commit
    if not root.is_dir():
        return None
    files = []
    for dirpath, _, filenames in os.walk(root):
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                size = path.stat().st_size
            except OSError:
                continue  # a dangling link is not a cached file
            blob = Path(os.path.realpath(path)).name
            sha = blob if is_sha256(blob) else None
            rel = path.relative_to(root).as_posix()
            files.append(RepoFile(path=rel, size=size, oid=blob, sha256=sha))
    files.sort(key=lambda f: f.path)
    return RepoListing(repo=repo, commit=commit, files=tuple(files))
