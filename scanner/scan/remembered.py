"""A suite's scan, kept for the next run while no file it read has changed.

A warm `test.server` or plugin run would scan the suite again although nothing changed, while
the tests wait (docs/performance.md). The result is kept in a folder of the cache
(`<cache>/.locks/.fetch-test-models/scans/`), named by what decides it: the tool's version, the
scan configuration (after the project's own, `discover.for_project`), the endpoint's host, and the
path and content of every file matched. The files a scan read beyond those (a module a test
imports, found under the root) are kept in the entry with their content's digest, and checked
too. A suite large enough to be scanned in worker processes is scanned every time
(its workers do not say which other files they read). A copy of the suite elsewhere finds the same
entry: paths are relative to the root.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

from ..cache import atomic
from ..models import ScanResult
from .config import ScanConfig
from .discover import for_project
from .files import find_test_files
from .suite import scan_suite
from .workers import worker_count

#: Entries kept; the oldest beyond are removed when one is written.
KEPT = 16


def _version() -> str:
    """The tool's version, and the size and time of the scanner's own modules: a checkout
    of the tool being worked on scans anew after each change to it."""
    try:
        version = metadata.version("fetch-test-models")
    except metadata.PackageNotFoundError:
        version = "unknown"
    package = Path(__file__).parent.parent  # every folder: the scan reads llama/'s rules too
    files = sorted((str(one.relative_to(package)), one.stat().st_size, one.stat().st_mtime_ns)
                   for one in package.rglob("*.py"))
    return f"{version} {files}"


def _stamps(root: Path, rels: list[str]) -> list[tuple[str, str]]:
    """(path, digest of the content) of each file; a file gone is (path, ""). The content, not
    the modification time: an edit within the clock's tick that keeps the size is seen too,
    and reading a small suite's files costs a millisecond."""
    stamps = []
    for rel in rels:
        try:
            digest = hashlib.blake2b((root / rel).read_bytes(), digest_size=16).hexdigest()
        except OSError:
            digest = ""
        stamps.append((rel, digest))
    return stamps


def remembered_scan(root: Path, config: ScanConfig, endpoint_host: str | None,
                    store: Path) -> ScanResult:
    """`scan_suite(root, config, endpoint_host)`, from `store` when its entry still holds."""
    project = for_project(root, config)
    found = find_test_files(root, project.tests, project.skipped_dirs)
    if not found.paths or worker_count(len(found.paths)):
        return scan_suite(root, config, endpoint_host)  # NoTestFiles, or scanned in workers
    key = json.dumps([_version(), project.model_dump_json(), endpoint_host,
                      _stamps(root, list(found.paths))])
    entry = store / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"
    kept = _read(entry, root)
    if kept is not None:
        return kept
    located: set[str] = set()
    result = scan_suite(root, config, endpoint_host, workers=0, located=located)
    _write(entry, result, _stamps(root, sorted(located)))
    return result


def _read(entry: Path, root: Path) -> ScanResult | None:
    try:
        kept = json.loads(entry.read_text(encoding="utf-8"))
        if [tuple(one) for one in kept["read"]] != _stamps(root, [r for r, _ in kept["read"]]):
            return None  # a module a test imports changed
        return ScanResult.model_validate(kept["result"])
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or not one we can use
        return None


def _write(entry: Path, result: ScanResult, read: list[tuple[str, str]]) -> None:
    """Kept for the next run; a cache that cannot be written to keeps nothing."""
    text = json.dumps({"read": read, "result": result.model_dump(mode="json")})
    atomic.keep_text(entry, text, newest=KEPT)
