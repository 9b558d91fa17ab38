"""What every report shares: the console, JSON on stdout, sizes, diagnostics and the folder
all locations share."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from ..models import Diagnostic


def make_console(stderr: bool = False) -> Console:
    """Rich console that does not wrap tables to 80 columns when piped."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, width=200)
    return console


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2))


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
