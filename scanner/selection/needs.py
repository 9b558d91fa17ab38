"""The models a selection needs: the static scan joined with what pytest will run.

A reference is needed when
- it comes from configuration (`extra`), or sits in a module that is not a test module
  (`utils.py` presets, `conftest.py`: llama.cpp's conftest starts every preset once per
  session) and at least one test runs;
- it sits in a test, or a test class, that has a running item;
- it sits at module level or in a helper (fixture, non-test function) of a test module that has
  a running item.
Parametrize values of test modules are taken from pytest (`item.callspec.params`) for the
running items only: exact where the scan could only warn (f-strings, computed lists).
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import NamedTuple

from ..llama.repo_id import model_problem
from ..models import Diagnostic, HuggingFaceModel, ModelReference, ScanResult
from ..scan.config import ScanConfig
from .collect import SelectedTest, Selection, TestNaming


def _matches(name: str, patterns: Iterable[str]) -> bool:
    """pytest's `PyCollector._matches_prefix_or_glob_option`: a prefix, or a glob (a pattern
    without wildcards matches only itself, which the prefix test already covers)."""
    return any(name.startswith(p) or fnmatchcase(name, p) for p in patterns)


class SelectedPlaces:
    """Answers "does this place of the scan belong to a running test?" for one selection."""

    def __init__(self, selection: Selection) -> None:
        self.naming: TestNaming = selection.naming
        self.running = selection.running()
        self.by_file: dict[str, list[list[str]]] = {}
        for test in self.running:
            self.by_file.setdefault(test.file, []).append(test.qualname.split("."))

    def is_test_module(self, file: str) -> bool:
        return _matches_file(PurePosixPath(file).name, self.naming.python_files)

    def needs(self, file: str, test: str) -> bool:
        """True when a reference at `test` (a scan qualname) of `file` is needed."""
        if file == "<config>":
            return True
        if not self.is_test_module(file):
            return bool(self.running)
        container = container_of(test, self.naming)
        size = len(container)
        return any(qualname[:size] == container for qualname in self.by_file.get(file, ()))


def container_of(test: str, naming: TestNaming) -> list[str]:
    """The test container a place (a scan qualname) sits in: its leading test-named segments;
    a helper, fixture or module-level place has none and is needed by any running test of the
    file (`<module>` is no test name)."""
    container: list[str] = []
    for segment in test.split("."):
        if not _matches(segment, (*naming.python_functions, *naming.python_classes)):
            break
        container.append(segment)
    return container


def _matches_file(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, p) for p in patterns)


def select_models(scan: ScanResult, selection: Selection, config: ScanConfig) -> ScanResult:
    """The scan narrowed to what `selection` runs; `denied` is recomputed for what remains."""
    places = SelectedPlaces(selection)
    references: dict[ModelReference, None] = {}
    for ref in scan.references:
        if ref.kind == "parametrize" and ref.model.loader is None \
                and places.is_test_module(ref.file):
            continue  # taken from pytest below, for the running items only
        if places.needs(ref.file, ref.test):
            references[ref] = None
    diagnostics = {diag: None for diag in scan.diagnostics if _keeps(diag, places)}
    static_lines = {(r.file, r.test, r.model): r.line for r in scan.references}
    for test in places.running:
        found = _parametrized_model(test, config)
        if isinstance(found, str):
            where = test.nodeid.rpartition("::")[2]
            diag = Diagnostic(file=test.file, line=test.line, severity="warning",
                              message=f"{where}: {found}", test=test.qualname, kind="parametrize")
            diagnostics[diag] = None
        elif found is not None:
            line = static_lines.get((test.file, test.qualname, found), test.line or 0)
            ref = ModelReference(model=found, file=test.file, line=line, test=test.qualname,
                                 kind="parametrize")
            references[ref] = None
    return ScanResult(references=tuple(references), diagnostics=tuple(diagnostics),
                      files_scanned=scan.files_scanned,
                      denied=config.denied(ref.model for ref in references),
                      run_time=tuple(use for use in scan.run_time
                                     if places.needs(use.file, use.test)))


def _keeps(diag: Diagnostic, places: SelectedPlaces) -> bool:
    """Errors (a file not scanned) always show; a warning shows where a reference would have
    been needed, except parametrize warnings of test modules, which pytest's values replace."""
    if diag.severity == "error" or diag.line is None:
        return True
    if diag.kind == "parametrize" and places.is_test_module(diag.file):
        return False
    return places.needs(diag.file, diag.test)


def _parametrized_model(test: SelectedTest,
                        config: ScanConfig) -> HuggingFaceModel | str | None:
    """The model this item's parameters name, a problem message, or None (no repo)."""
    repo = next((test.params[n] for n in config.repo_names if n in test.params), None)
    if repo is None:
        return None
    hf_file = next((test.params[n] for n in config.file_names if n in test.params), None)
    problem = model_problem(repo, hf_file)
    return problem or HuggingFaceModel(hf_repo=repo, hf_file=hf_file)


class SelectedScan(NamedTuple):
    """A scan narrowed by a selection, with what the report says about it."""

    scan: ScanResult
    selection: Selection
    total_models: int  # models of the whole suite: the scan's and those pytest named
    offline: bool = False  # the selected tests run offline (`test.server --offline`)


def narrow(scan: ScanResult, selection: Selection, config: ScanConfig, *,
           offline: bool = False) -> SelectedScan:
    """`select_models`, with the number of models of the whole suite."""
    narrowed = select_models(scan, selection, config)
    # pytest may name models the scan could not read (f-strings): the suite has them all
    total = len(set(scan.models()) | set(narrowed.models()))
    return SelectedScan(narrowed, selection, total, offline)
