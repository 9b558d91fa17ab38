"""The shared Hugging Face cache, located and read the way llama.cpp does.

llama.cpp (`common/hf-cache.cpp`) and huggingface_hub share one layout:
`models--org--name/{refs/main, blobs/<sha256>, snapshots/<commit>/<path>}`. The locks around
writing a blob, and what is deleted only under them, are in `locks.py`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..models import RepoFile, RepoListing
from . import atomic

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


def adopt_stored_blob(cache: Path, repo: str, commit: str, file: RepoFile) -> bool:
    """When another process stored the blob meanwhile: link it into the snapshot and drop a
    partial of ours, of no use now (the caller holds the blob's lock). False if not stored."""
    blob = cached_blob(cache, repo, file)
    if blob is None:
        return False
    link_blob(cache, repo, commit, file, blob)
    resumable_partial(cache, repo, file).unlink(missing_ok=True)
    return True


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
