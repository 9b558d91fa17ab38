"""One scan of a test suite: find files, parse them, collect references and diagnostics."""

from __future__ import annotations

from pathlib import Path

from .astscan import FileScanner, url_pattern
from .config import ScanConfig
from .constants import ConstantIndex, collect_constants
from .discovery import ParsedFile, find_test_files, parse_file
from .models import Diagnostic, ModelReference, ScanResult


class NoTestFiles(Exception):
    """No file matched: the run cannot have done its job."""


def scan_suite(root: Path, config: ScanConfig, endpoint_host: str | None = None) -> ScanResult:
    """Scan every file under `root` matching `config.tests`; never imports test code."""
    found = find_test_files(root, config.tests)
    if not found.paths:
        globs = ", ".join(config.tests)
        raise NoTestFiles(f"no test file matched under {root} (globs: {globs})")
    diagnostics: list[Diagnostic] = list(found.diagnostics)
    parsed: list[ParsedFile] = []
    for path in found.paths:
        rel = path.relative_to(root).as_posix()
        result = parse_file(path, rel)
        if isinstance(result, Diagnostic):
            diagnostics.append(result)
        else:
            parsed.append(result)
    index = ConstantIndex([collect_constants(p.rel, p.tree) for p in parsed])
    hosts = config.url_hosts + ((endpoint_host,) if endpoint_host else ())
    url_regex = url_pattern(hosts)
    references: list[ModelReference] = []
    for item in parsed:
        scanner = FileScanner(item.rel, item.source, item.tree, config, index, url_regex)
        try:
            scanner.scan()
        except RecursionError:
            diagnostics.append(Diagnostic(file=item.rel, line=None, severity="error",
                                          message="nested too deeply to scan"))
            continue
        references.extend(scanner.references)
        diagnostics.extend(scanner.diagnostics)
    references.extend(
        ModelReference(model=model, file="<config>", line=0, test="extra", kind="extra")
        for model in config.extra
    )
    denied = frozenset(ref.model for ref in references if config.is_denied(ref.model))
    return ScanResult(references=tuple(references), diagnostics=tuple(diagnostics),
                      files_scanned=len(found.paths), denied=denied)
