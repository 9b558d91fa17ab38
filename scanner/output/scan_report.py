"""Output of `models.list`: a table for people, one JSON document for machines."""

from __future__ import annotations

import json
import shlex
from typing import Any

from rich.console import Console

from ..models import Diagnostic, HuggingFaceModel, ModelReference, ScanResult
from ..selection.needs import SelectedScan
from ..selection.network import needs_entry, network_lines
from .console import common_folder, make_console, print_diagnostics, print_json, print_table
from .outcomes import Listed

MAX_LOCATIONS = 2


def model_fields(model: HuggingFaceModel) -> dict[str, Any]:
    """How both JSON documents name a model."""
    return {"hf_repo": model.hf_repo, "hf_file": model.hf_file, "repo": model.repo,
            "tag": model.tag, "revision": model.revision, "loader": model.loader or "llama.cpp"}


def reference_entry(ref: ModelReference) -> dict[str, Any]:
    entry: dict[str, Any] = {"file": ref.file, "line": ref.line, "test": ref.test,
                             "kind": ref.kind}
    if ref.call is not None:  # a framework's call: what it reads follows from it
        entry |= {"call": ref.call, "options": {k: json.loads(v) for k, v in ref.options}}
    return entry


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


def scan_json(result: ScanResult, selected: SelectedScan | None = None) -> dict[str, Any]:
    """The `--json` document of `models.list` (format documented in the README)."""
    return {
        "models": [model_entry(result, m) for m in result.models()],
        "diagnostics": [diagnostic_entry(d) for d in result.diagnostics],
        "files_scanned": result.files_scanned,
        "selection": selection_entry(selected),
    }


def selection_entry(selected: SelectedScan | None) -> dict[str, Any] | None:
    """The `selection` object of both JSON documents; null when no `--` was given."""
    if selected is None:
        return None
    selection = selected.selection
    running = len(selection.running())
    return {
        "arguments": list(selection.arguments),
        "selected_tests": len(selection.tests),
        "skipped_tests": len(selection.tests) - running,
        "models": len(selected.scan.models()),
        "total_models": selected.total_models,
        "collection_seconds": round(selection.seconds, 3),
    }


def selection_line(selected: SelectedScan) -> str:
    """One line saying which selection applied and what it kept, for people."""
    selection = selected.selection
    args = shlex.join(selection.arguments) or "(no arguments)"
    skipped = len(selection.tests) - len(selection.running())
    skipped_note = f" ({skipped} skipped by their marks)" if skipped else ""
    return (f"selection: pytest {args}: {len(selection.tests)} tests selected{skipped_note}, "
            f"{len(selected.scan.models())} of {selected.total_models} models "
            f"(collected in {selection.seconds:.1f} s)")


def show_listed(listed: Listed, *, json: bool) -> None:
    """`models.list`: the `--json` document, or the table and what follows it."""
    if json:
        print_json({**scan_json(listed.scan, listed.selected),
                    "network_needs": needs_entry(listed.network)})
    else:
        print_scan(listed.scan, make_console(), listed.selected,
                   network_lines(listed.network, offline=False))


def print_scan(result: ScanResult, console: Console,
               selected: SelectedScan | None = None, notes: list[str] | None = None) -> None:
    """The table, the diagnostics, `notes` (what the run needs the network for), then the
    selection and one summary line."""
    # the loader column only where a framework loads a model: llama.cpp's table is unchanged
    loaders = any(model.loader for model in result.models())
    folder = common_folder([ref.file for ref in result.references if ref.kind != "extra"])
    rows = []
    for model in result.models():
        refs = result.references_to(model)
        where = ", ".join(ref.location().removeprefix(folder) for ref in refs[:MAX_LOCATIONS])
        if len(refs) > MAX_LOCATIONS:
            where += f", +{len(refs) - MAX_LOCATIONS} more"
        name = model.repo + (" (denied)" if model in result.denied else "")
        loader = (model.loader or "llama.cpp",) if loaders else ()
        rows.append((name, _tag_or_file(model), *loader, str(len(refs)), where))
    print_table(console, ("model", "tag or file", *(("loader",) if loaders else ()), "refs",
                          "first locations"), rows, right="refs")
    print_diagnostics(result.diagnostics, console)
    for note in notes or ():
        console.print(note, markup=False, soft_wrap=True)
    denied = len(result.denied)
    under = f" under {folder}" if folder else ""
    if selected is not None:
        console.print(selection_line(selected), markup=False)
    models = len(result.models())
    of_total = f" of {selected.total_models}" if selected else ""
    console.print(
        f"{models}{of_total} models ({denied} denied), {len(result.references)} references, "
        f"{len(result.diagnostics)} diagnostics, {result.files_scanned} files scanned{under}"
    )


def _tag_or_file(model: HuggingFaceModel) -> str:
    if model.revision:
        return f"{model.hf_file or ''} @ {model.revision}".lstrip()
    if model.hf_file:
        return model.hf_file
    if model.loader:
        return "(whole repo)" if model.loader == "hub_snapshot" else ""
    return f":{model.tag}" if model.tag else "(default)"
