"""What `models.prune` keeps for a suite: the repos it references (and those the presets it
references name), the commits the lock or a URL pins, and the blobs placed URL files link to."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ..cache.layout import is_commit, read_ref, snapshot_path
from ..fetch import lock
from ..llama.preset import PRESET_FILE, PresetError, preset_models
from ..llama.url_files import placed_blobs
from ..models import ScanResult


class Keep(NamedTuple):
    repos: set[str]  # referenced: their current snapshots are kept
    pinned: dict[str, set[str]]  # commits kept besides each repo's refs
    placed: frozenset[str]  # blobs a URL file in the suite links to


def what_to_keep(scan: ScanResult, cache: Path, *, lock_path: Path, suite_dir: Path,
                 url_dest: str) -> Keep:
    """Read from the scan, the lock (a LockError when it cannot be read) and the cache; the Hub
    is not asked."""
    entries = lock.parse(lock.read_text(lock_path, missing=lock.HEADER), lock_path)
    pinned: dict[str, set[str]] = {}
    for entry in entries:
        pinned.setdefault(entry.model.repo, set()).add(entry.commit)
    for model in scan.models():  # a URL pinned to a commit: fetched without a ref
        if model.revision and is_commit(model.revision):
            pinned.setdefault(model.repo, set()).add(model.revision)
    repos = {m.repo for m in scan.models()} | set(pinned)
    repos |= preset_repos(cache, repos)
    url_files = [m.hf_file for m in scan.models() if m.revision and m.hf_file]
    placed = placed_blobs(suite_dir, url_dest, url_files, cache)
    return Keep(repos, pinned, frozenset(placed))


def preset_repos(cache: Path, repos: set[str]) -> set[str]:
    """The repos the cached presets (`preset.ini` at `main`) of these repos name, followed
    through presets that name presets."""
    found: set[str] = set()
    todo = set(repos)
    while todo:
        repo = todo.pop()
        commit = read_ref(cache, repo)
        if commit is None:
            continue
        try:
            text = snapshot_path(cache, repo, commit, PRESET_FILE).read_text(encoding="utf-8")
            named = {m.hf_repo.split(":", 1)[0] for m in preset_models(text) if m.hf_repo}
        except (OSError, UnicodeDecodeError, PresetError):
            continue
        todo |= named - found - repos
        found |= named
    return found - repos
