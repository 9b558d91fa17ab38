"""One scan of a test suite: find the files, scan them (in this process, or in workers on a
large suite), then make the references, with one model object per distinct model."""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import NoTestFiles
from ..llama.repo_id import model_problem
from ..models import Diagnostic, HuggingFaceModel, ModelReference, RunTimeFetch, ScanResult
from .batch import BatchScanner, FileFindings, ScanJob
from .candidates import url_pattern
from .config import ScanConfig
from .discover import for_project
from .files import find_test_files, printable_path
from .found import Found
from .workers import scan_in_workers, worker_count


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Syntax trees hold no cycles; with thousands of them alive the cyclic collector would
    re-traverse them over and over and triple the scan time. The references outlive the scan:
    frozen, they are not re-traversed by the collections that building the report triggers
    either (docs/performance.md: the dense corpus)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def scan_suite(root: Path, config: ScanConfig, endpoint_host: str | None = None,
               workers: int | None = None, located: set[str] | None = None) -> ScanResult:
    """Scan every file under `root` matching `config.tests`; never imports test code.
    `workers`: processes to scan in (0: this one); by default as many as pay off. `located`
    (with `workers` 0) gets the files the scan read beyond those matched (a module a test
    imports, found under the root)."""
    config = for_project(root, config)
    found = find_test_files(root, config.tests, config.skipped_dirs)
    if not found.paths:
        globs = ", ".join(config.tests)
        raise NoTestFiles(f"no test file matched under {root} (globs: {globs})")
    hosts = config.url_hosts + ((endpoint_host,) if endpoint_host else ())
    top = str(root)
    job = ScanJob({printable_path(rel): os.path.join(top, rel) for rel in found.paths}, config,
                  url_pattern(hosts, blob=True), top)
    workers = worker_count(len(job.paths)) if workers is None else workers
    with _no_cyclic_gc(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a test file's SyntaxWarnings are not ours to print
        here = None if workers else BatchScanner(job)
        files = here.scan(job.paths) if here else scan_in_workers(job, workers)
        result = _result(files, list(found.diagnostics), config, len(found.paths))
        if located is not None and here is not None:
            located.update(here.located)
        return result


def _result(files: Iterable[FileFindings], diagnostics: list[Diagnostic], config: ScanConfig,
            files_scanned: int) -> ScanResult:
    """The references with their model objects, one per distinct model however often a suite
    names it, then the configured extra models."""
    models: dict[tuple[str, str | None, str | None, str | None], HuggingFaceModel] = {}
    references: list[ModelReference] = []
    found: list[tuple[str, Found]] = []
    datasets: set[str] = set()
    run_time: list[RunTimeFetch] = []
    for rel, file_found, file_diagnostics, file_datasets, file_run_time in files:
        found.extend((rel, one) for one in file_found)
        datasets.update(file_datasets)
        diagnostics.extend(file_diagnostics)
        run_time.extend(RunTimeFetch(file=rel, line=line, test=test, what=what)
                        for what, line, test in file_run_time)
    loaded = {one[0].lower() for _, one in found if one[6] != "unknown"}
    for rel, (hf_repo, hf_file, revision, line, test, kind, loader, call, options) in found:
        if loader == "unknown" and (hf_repo.lower() in loaded or hf_repo in datasets):
            continue  # a container's repo that a call loads, or a dataset: no model of its own
        model = models.get((hf_repo, hf_file, revision, loader))
        if model is None:
            model = models[hf_repo, hf_file, revision, loader] = HuggingFaceModel(
                hf_repo=hf_repo, hf_file=hf_file, revision=revision, loader=loader)
        references.append(ModelReference(model=model, file=rel, line=line, test=test,
                                         kind=kind, call=call, options=options))
    for model in config.extra:
        problem = model_problem(model.hf_repo, model.hf_file)
        if problem:
            diagnostics.append(Diagnostic(file="<config>", line=None, severity="warning",
                                          message=f"extra: {problem}"))
        else:
            references.append(ModelReference(model=model, file="<config>", line=0, test="extra",
                                             kind="extra"))
            models.setdefault((model.hf_repo, model.hf_file, model.revision, None), model)
    return ScanResult(references=tuple(references), diagnostics=tuple(diagnostics),
                      files_scanned=files_scanned, denied=config.denied(models.values()),
                      run_time=tuple(run_time))
