"""The shared cache's locks, taken as huggingface_hub takes them, and what is deleted only
under them: a blob or partial, a whole repo folder, and partial downloads no live process
writes (huggingface_hub's stale ones, ours whose file the Hub changed since).

A blob's lock is held by whoever writes that blob (our fetch, `hf download`): what is deleted
under it is never what a live process is writing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Collection
from contextlib import ExitStack
from pathlib import Path

from filelock import FileLock, Timeout

from ..models import RepoFile
from .layout import RESUMABLE_SUFFIX, repo_folder


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
