"""Output of `models.list`: a table for people, one JSON document for machines."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from .models import Diagnostic, HuggingFaceModel, ModelReference, ScanResult

MAX_LOCATIONS = 2


def make_console(stderr: bool = False) -> Console:
    """Rich console that does not wrap tables to 80 columns when piped."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, width=200)
    return console


def model_fields(model: HuggingFaceModel) -> dict[str, Any]:
    """How both JSON documents name a model."""
    return {"hf_repo": model.hf_repo, "hf_file": model.hf_file, "repo": model.repo,
            "tag": model.tag, "revision": model.revision}


def reference_entry(ref: ModelReference) -> dict[str, Any]:
    return {"file": ref.file, "line": ref.line, "test": ref.test, "kind": ref.kind}


def model_entry(result: ScanResult, model: HuggingFaceModel) -> dict[str, Any]:
    refs = result.references_to(model)
    return {
        **model_fields(model),
        "denied": model in result.denied,
        "kinds": sorted({ref.kind for ref in refs}),
        "references": [reference_entry(ref) for ref in refs],
    }


def diagnostic_entry(diag: Diagnostic) -> dict[str, Any]:
    return {"file": diag.file, "line": diag.line, "severity": diag.severity,
            "message": diag.message}


def scan_json(result: ScanResult) -> dict[str, Any]:
    """The `--json` document of `models.list` (format documented in the README)."""
    return {
        "models": [model_entry(result, m) for m in result.models()],
        "diagnostics": [diagnostic_entry(d) for d in result.diagnostics],
        "files_scanned": result.files_scanned,
    }


def print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2))


def print_scan(result: ScanResult, console: Console) -> None:
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for column in ("model", "tag or file", "refs", "first locations"):
        table.add_column(column, justify="right" if column == "refs" else "left")
    folder = common_folder([ref.file for ref in result.references if ref.kind != "extra"])
    for model in result.models():
        refs = result.references_to(model)
        where = ", ".join(ref.location().removeprefix(folder) for ref in refs[:MAX_LOCATIONS])
        if len(refs) > MAX_LOCATIONS:
            where += f", +{len(refs) - MAX_LOCATIONS} more"
        name = model.repo + (" (denied)" if model in result.denied else "")
        table.add_row(name, _tag_or_file(model), str(len(refs)), where)
    console.print(table)
    print_diagnostics(result.diagnostics, console)
    denied = len(result.denied)
    under = f" under {folder}" if folder else ""
    console.print(
        f"{len(result.models())} models ({denied} denied), {len(result.references)} references, "
        f"{len(result.diagnostics)} diagnostics, {result.files_scanned} files scanned{under}"
    )


def common_folder(files: list[str]) -> str:
    """The folder all locations share (with a trailing '/'), so the table stays narrow."""
    if not files:
        return ""
    parts = [f.split("/")[:-1] for f in files]
    common: list[str] = []
    for names in zip(*parts, strict=False):
        if len(set(names)) != 1:
            break
        common.append(names[0])
    return "/".join(common) + "/" if common else ""


def print_diagnostics(diagnostics: tuple[Diagnostic, ...], console: Console) -> None:
    if not diagnostics:
        return
    console.print()
    for diag in diagnostics:
        console.print(f"{diag.location()}: {diag.severity}: {diag.message}", markup=False)
    console.print()


def _tag_or_file(model: HuggingFaceModel) -> str:
    if model.revision:
        return f"{model.hf_file} @ {model.revision}"
    if model.hf_file:
        return model.hf_file
    return f":{model.tag}" if model.tag else "(default)"
