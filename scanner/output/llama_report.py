"""Output of `models.fetch --backend llama`: one line per model as llama.cpp finishes it, then
the failures and one summary line; with `--dry-run` the command each model would run; with
`--json` one document."""

from __future__ import annotations

import shlex
from typing import Any

from rich.console import Console

from ..fetch.llama import LlamaOutcome, unsupported_reason
from ..models import HuggingFaceModel, ScanResult
from ..selection.needs import SelectedScan
from .console import make_console, print_diagnostics, print_json
from .fetch_report import needed_by
from .outcomes import LlamaFetched
from .scan_report import selection_entry, selection_line


def print_llama_start(scan: ScanResult, selected: SelectedScan | None,
                      console: Console) -> None:
    """Before llama.cpp runs: the scan's diagnostics and the selection."""
    print_diagnostics(scan.diagnostics, console)
    if selected is not None:
        console.print(selection_line(selected), markup=False)


def print_llama_done(outcome: LlamaOutcome, console: Console) -> None:
    console.print(f"{'fetched' if outcome.ok else 'FAILED '} {outcome.model.label()}",
                  markup=False)


def show_llama_fetched(fetched: LlamaFetched, *, json: bool) -> None:
    if json:
        print_json(llama_json(fetched))
        return
    console = make_console()
    if fetched.commands is not None:
        for model, command in zip(fetched.models, fetched.commands, strict=True):
            shown = shlex.join(command) if command else str(unsupported_reason(model))
            console.print(f"{model.label()}: {shown}", markup=False)
        return
    for outcome in fetched.failed:
        console.print(f"FAILED {outcome.model.label()}: {outcome.message}", markup=False)
        console.print(f"    command: {shlex.join(outcome.command)}", markup=False)
        console.print(f"    needed by: {needed_by(fetched.scan.references_to(outcome.model))}",
                      markup=False)
    done, failed = len(fetched.outcomes), len(fetched.failed)
    console.print(f"{done} models: {done - failed} fetched, {failed} failed "
                  f"(llama.cpp: {fetched.binary.path})", markup=False)


def llama_json(fetched: LlamaFetched) -> dict[str, Any]:
    """The `--json` document of `models.fetch --backend llama` (format in the README)."""
    if fetched.commands is not None:
        models = [_llama_entry(model, command, None)
                  for model, command in zip(fetched.models, fetched.commands, strict=True)]
    else:
        models = [_llama_entry(o.model, o.command, o) for o in fetched.outcomes]
    return {"backend": "llama", "binary": str(fetched.binary.path),
            "dry_run": fetched.commands is not None, "models": models,
            "selection": selection_entry(fetched.selected)}


def _llama_entry(model: HuggingFaceModel, command: tuple[str, ...],
                 outcome: LlamaOutcome | None) -> dict[str, object]:
    return {"hf_repo": model.hf_repo, "hf_file": model.hf_file, "command": list(command),
            "ok": outcome.ok if outcome else None,
            "returncode": outcome.returncode if outcome else None,
            "message": outcome.message if outcome else None}
