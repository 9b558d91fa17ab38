"""`models.prune`: what the suite no longer needs in the cache, listed or removed.

Kept, per referenced repo: the snapshot `refs/main` (and any other ref) points at, the commits
the lock or a URL reference pins, snapshots changed in the last hour (a fetch may be filling
one), every blob a kept snapshot links to, and every blob a URL file placed in the suite
(`tmp/<file name>`) links to. Pruned: the other snapshots, blobs no kept
snapshot links to, partial downloads no live process writes (llama.cpp's `.downloadInProgress`
stays: it resumes them and takes no lock we could test); with `unreferenced`, whole repos no
reference names. Nothing outside the cache folder is touched: links are removed, never
followed, and a blob is removed only when its huggingface_hub lock can be taken at once (no
download of it is in progress); a whole repo only when every lock of it can (no download
writes into it).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Literal, NamedTuple

from ..cache.layout import is_commit, repo_folder
from ..cache.locks import remove_repo_unless_locked, remove_unless_locked

#: A snapshot changed more recently than this may belong to a fetch in progress: kept.
BUSY_SECONDS = 3600.0

Kind = Literal["snapshot", "blob", "partial", "repo"]


class PruneItem(NamedTuple):
    kind: Kind
    path: Path
    size: int


def plan_prune(cache: Path, referenced: Iterable[str], locked: Mapping[str, set[str]], *,
               unreferenced: bool, now: float | None = None,
               placed: frozenset[str] = frozenset()) -> list[PruneItem]:
    """What `models.prune` would remove, repo by repo, sorted. `placed`: the real paths of
    blobs a URL file's destination in the suite links to (kept, as a snapshot's are)."""
    now = time.time() if now is None else now
    repos = {repo_folder(cache, repo).name: repo for repo in referenced}
    items: list[PruneItem] = []
    for folder in sorted(cache.glob("models--*")):
        if not folder.is_dir() or folder.is_symlink():
            continue
        repo = repos.get(folder.name)
        if repo is None:
            if unreferenced:
                items.append(PruneItem("repo", folder, _tree_size(folder)))
            continue
        items += _prune_repo(folder, locked.get(repo, set()), now, placed)
    return items


def _prune_repo(folder: Path, locked: set[str], now: float,
                placed: frozenset[str]) -> list[PruneItem]:
    keep = locked | _ref_commits(folder)
    snapshots = folder / "snapshots"
    old: list[Path] = []
    kept: list[Path] = []
    for snapshot in sorted(snapshots.iterdir()) if snapshots.is_dir() else []:
        busy = now - _newest_change(snapshot) < BUSY_SECONDS
        (kept if snapshot.name in keep or busy else old).append(snapshot)
    items = [PruneItem("snapshot", s, 0) for s in old]
    linked = {os.path.realpath(link) for s in kept for link in _links(s)} | placed
    blobs = folder / "blobs"
    for blob in sorted(blobs.iterdir()) if blobs.is_dir() else []:
        if blob.name.endswith(".downloadInProgress"):
            continue  # llama.cpp's partial: it resumes it, and takes no lock we could test
        if blob.name.endswith(".incomplete"):
            items.append(PruneItem("partial", blob, _size(blob)))
        elif blob.is_file() and os.path.realpath(blob) not in linked:
            items.append(PruneItem("blob", blob, blob.stat().st_size))
    return items


def apply(cache: Path, items: Iterable[PruneItem],
          in_use: Callable[[PruneItem, str], None] = lambda item, lock: None) -> list[PruneItem]:
    """Remove the items that can be removed safely now; returns those removed. `in_use` hears
    of each repo left because a download writes into it, with the lock it holds."""
    removed = []
    for item in items:
        try:
            if item.kind in ("blob", "partial"):
                if not remove_unless_locked(cache, item.path):
                    continue
            elif item.kind == "repo":
                held = remove_repo_unless_locked(cache, item.path)
                if held is not None:
                    in_use(item, held)
                    continue
            elif item.path.is_symlink():
                item.path.unlink()  # the link only: what it points at is not the cache's
            else:
                shutil.rmtree(item.path)  # does not follow links: nothing outside is touched
        except OSError:
            continue  # not ours to remove (permissions): left, and counted as left
        removed.append(item)
    return removed


def _ref_commits(folder: Path) -> set[str]:
    """The commits `refs/main` and any other branch or tag of the repo point at."""
    refs = folder / "refs"
    texts = [ref.read_text().strip() for ref in refs.rglob("*") if ref.is_file()] \
        if refs.is_dir() else []
    return {text for text in texts if is_commit(text)}


def _links(snapshot: Path) -> list[Path]:
    return [p for p in snapshot.rglob("*") if p.is_symlink()]


def _newest_change(snapshot: Path) -> float:
    return max([snapshot.lstat().st_mtime, *(p.lstat().st_mtime for p in snapshot.rglob("*"))])


def _tree_size(folder: Path) -> int:
    return sum(_size(p) for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _size(path: Path) -> int:
    """What removing the file frees: our partials are sparse, so one counts what is on disk."""
    stat = path.lstat()
    if path.name.endswith(".incomplete"):
        return min(stat.st_size, stat.st_blocks * 512)
    return stat.st_size
