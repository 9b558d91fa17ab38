"""Scanning files in order, in this process or in a worker: one index of module names shared
by every file a scanner sees, each file's syntax tree dropped once the file is scanned."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from ..models import Diagnostic
from .config import ScanConfig
from .files import ParsedFile, parse_file
from .found import Found
from .symbols import ConstantIndex, ModuleConstants, collect_constants
from .visitor import FileScanner

#: where a project keeps its packages, relative to the root
SOURCE_FOLDERS = ("", "src/", "python/", "lib/")


@dataclass(frozen=True)
class ScanJob:
    """What scanning any file of one suite needs; a worker process inherits it."""

    paths: dict[str, str]  # every file, as reported -> its path on disk, in scan order
    config: ScanConfig
    url_regex: re.Pattern[str]
    root: str = ""  # where project modules the tests import are looked for


class FileFindings(NamedTuple):
    rel: str
    found: list[Found]
    diagnostics: list[Diagnostic]
    datasets: tuple[str, ...] = ()  # dataset repos the file loads: no model anywhere
    run_time: tuple[tuple[str, int, str], ...] = ()  # (what, line, test) fetched at run time


class BatchScanner:
    """Scans runs of a job's files; module names another file imports (llama.cpp's `utils.py`,
    every run) are read on demand, from any file of the suite."""

    def __init__(self, job: ScanJob) -> None:
        self.job = job
        self.index = ConstantIndex(job.paths, self._load, self._locate)
        self._pending: set[str] = set()
        self._early: dict[str, ParsedFile | Diagnostic] = {}
        #: the files outside the job that `_locate` found: the scan read them too
        self.located: set[str] = set()

    def scan(self, rels: Iterable[str]) -> Iterator[FileFindings]:
        """Each file's findings, in the order given."""
        rels = list(rels)
        self._pending = set(rels)
        for rel in rels:
            self._pending.discard(rel)
            parsed = self._early.pop(rel, None) or parse_file(self.job.paths[rel], rel)
            yield self._scan_file(rel, parsed)

    def _load(self, rel: str) -> ModuleConstants | None:
        """A module imported before its own turn here is parsed once and kept until then."""
        parsed = parse_file(self.job.paths.get(rel) or os.path.join(self.job.root, rel), rel)
        if rel in self._pending:
            self._early[rel] = parsed
        return None if isinstance(parsed, Diagnostic) else collect_constants(rel, parsed.tree)

    def _locate(self, dotted: str) -> str | None:
        """The file of a project module the tests import (`myproj.test.utils`), at the root or
        under a source folder (`src/`, `python/`), as root-relative path; None if none is."""
        if not self.job.root or not dotted.replace(".", "").replace("_", "").isalnum():
            return None
        base = dotted.replace(".", "/")
        for top in SOURCE_FOLDERS:
            for rel in (f"{top}{base}.py", f"{top}{base}/__init__.py"):
                if os.path.isfile(os.path.join(self.job.root, rel)):
                    self.located.add(rel)
                    return rel
        return None

    def _scan_file(self, rel: str, parsed: ParsedFile | Diagnostic) -> FileFindings:
        if isinstance(parsed, Diagnostic):
            return FileFindings(rel, [], [parsed])
        self.index.add(collect_constants(rel, parsed.tree))
        scanner = FileScanner(rel, parsed.source, parsed.tree, self.job.config,
                              self.job.url_regex, self.index)
        try:
            scanner.scan()
        except RecursionError:
            return FileFindings(rel, [], [Diagnostic(file=rel, line=None, severity="error",
                                                     message="nested too deeply to scan")])
        return FileFindings(rel, list(scanner.found), list(scanner.diagnostics),
                            tuple(scanner.datasets), tuple(scanner.run_time))
