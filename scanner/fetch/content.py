"""Whether bytes are the Hub's file: its sha256 for LFS files, its git blob id otherwise;
computed while a download streams (`StreamingCheck`), or over a cached copy (`--verify`)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

from ..cache import layout as hf_cache
from ..models import RepoFile
from .jobs import FetchSettings, FileJob, FileStatus
from .partial import PartialFile

#: Hashing reads files in pieces of this size (a download's prefix: from the page cache).
HASH_READ = 4 * 1024 * 1024


class StreamingCheck:
    """The Hub's id of the file computed in file order as the written prefix grows: sha256 for
    LFS files, the git blob sha1 otherwise. Each byte is hashed once."""

    def __init__(self, file: RepoFile, expected_from: str = "the Hub's") -> None:
        self.file, self.expected_from = file, expected_from
        self.digest = _hasher(file)
        self.hashed = 0
        self.lock = threading.Lock()

    def advance(self, partial: PartialFile, prefix_end: Callable[[], int], *,
                wait: bool = False) -> None:
        """Hash what was written since; skipped if another worker is at it (unless `wait`)."""
        if not self.lock.acquire(blocking=wait):
            return
        try:
            while (upto := prefix_end()) > self.hashed:
                data = partial.read(self.hashed, min(upto - self.hashed, HASH_READ))
                if not data:
                    return
                self.digest.update(data)
                self.hashed += len(data)
        finally:
            self.lock.release()

    def problem(self) -> str | None:
        if self.hashed != self.file.size:
            return f"only {self.hashed} of {self.file.size} bytes could be read back"
        return content_problem(self.digest.hexdigest(), self.file, self.expected_from)


def _hasher(file: RepoFile) -> hashlib._Hash:
    """sha256 for LFS files; a git blob's sha1 (over `blob <size>\\0` and the bytes) otherwise."""
    if file.sha256:
        return hashlib.sha256()
    digest = hashlib.sha1()
    digest.update(b"blob %d\0" % file.size)
    return digest


def check_content(path: Path, file: RepoFile, *, removed: bool,
                  expected_from: str = "the Hub's") -> str | None:
    """Compare the cached bytes with the expected id (the Hub's, or with --locked the lock's),
    reading the file in chunks. A copy of another size cannot match: the listed size is in the
    git blob header."""
    problem = content_problem(digest_of(path, file), file, expected_from)
    return problem + ("; removed from the cache" if removed else "") if problem else None


def digest_of(path: Path, file: RepoFile) -> str:
    """The id of the bytes at `path`, of the kind `file`'s id is (sha256 or git blob id)."""
    digest = _hasher(file)
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_READ):
            digest.update(chunk)
    return digest.hexdigest()


def content_problem(actual: str, file: RepoFile, expected_from: str = "the Hub's") -> str | None:
    """What to say when the bytes' id is not the one the Hub (or the lock) gave."""
    expected = file.blob_id
    if actual == expected:
        return None
    return (f"content does not match {expected_from} {'sha256' if file.sha256 else 'git oid'} "
            f"(expected {expected[:12]}, got {actual[:12]})")


def verify_cached(jobs: list[FileJob], settings: FetchSettings, *, repair: bool) -> list[str]:
    """`--verify`: re-hash cached files and return what did not match.

    With `repair` a mismatch is removed and planned for download again; without it (a dry run,
    offline) nothing in the cache is touched and the file counts as missing. A snapshot that
    lost a file this way is no ref's any more until the file is back (`finish_plans`):
    llama.cpp's offline lookup must not find it half there.
    """
    problems = []
    for job in jobs:
        if job.status is not FileStatus.CACHED:
            continue
        path = job.link_from or hf_cache.snapshot_path(settings.cache, job.repo, job.commit,
                                                       job.file.path)
        actual = digest_of(path, job.file)
        problem = content_problem(actual, job.file, job.expected_from)
        if problem is None:
            continue
        problems.append(f"{job.label}: cached copy {problem}"
                        + ("; removed from the cache" if repair else ""))
        if repair and job.link_from is not None:
            job.link_from.unlink(missing_ok=True)  # named after the id its bytes do not have
        elif repair:
            hf_cache.remove_cached_file(settings.cache, job.repo, job.commit, job.file,
                                        unless_blob=actual)
            hf_cache.drop_refs_to(settings.cache, job.repo, job.commit)
        job.bad_copy(problems[-1], repair=repair)
    return problems
