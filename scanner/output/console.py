"""What every report shares: the console, JSON on stdout, sizes, diagnostics and the folder
all locations share."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from ..models import Diagnostic
from . import log


def make_console(stderr: bool = False) -> Console:
    """Rich console that does not wrap tables to 80 columns when piped."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, width=200)
    return console


#: The room the columns other than names need at least: two narrow ones (a size, a status
#: wrapped to a word a line) and the three separators of a four-column table.
OTHER_COLUMNS = 24


def print_table(console: Console, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                right: str) -> None:
    """A table whose first two columns hold names (repos, files), never cut to "…", which no
    one can copy: when they fit on one line each, the other columns wrap first; when they
    cannot, each name folds whole onto the next line (`--json` has every name on one line).
    `right`: the column justified right (a size, a count)."""
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    longest = sum(max((len(line) for row in rows for line in row[column].splitlines()),
                      default=0) for column in (0, 1))
    fits = longest + OTHER_COLUMNS <= console.width
    for header in headers[:2]:
        table.add_column(header, no_wrap=fits, overflow="fold")
    for header in headers[2:]:
        table.add_column(header, justify="right" if header == right else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def json_text(document: dict[str, Any]) -> bytes:
    """The `--json` document as printed: indented, UTF-8. orjson writes it an order of
    magnitude faster than `json.dumps(indent=2)`, whose indenting encoder is pure Python
    (docs/performance.md has the figure)."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def print_json(document: dict[str, Any]) -> None:
    sys.stdout.flush()  # what was printed before stays before
    sys.stdout.buffer.write(json_text(document))
    sys.stdout.buffer.flush()


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
    """Each diagnostic on its line, except those of framework calls whose model cannot be read
    (a large suite has hundreds: `from_pretrained(tmp_dir)`): one line counts them by why,
    unless verbose."""
    if not diagnostics:
        return
    summarised = [] if log.verbose() else [d for d in diagnostics if d.kind == "call"]
    console.print()
    for diag in diagnostics:
        if diag.kind != "call" or not summarised:
            console.print(f"{diag.location()}: {diag.severity}: {diag.message}", markup=False)
    if summarised:
        console.print(calls_summary(summarised), markup=False)
    console.print()


def calls_summary(diagnostics: list[Diagnostic]) -> str:
    """`412 loader calls name a model the scan cannot read: 250 function argument, 100
    f-string, ... (--verbosity verbose lists each)`."""
    counts: dict[str, int] = {}
    for diag in diagnostics:
        reason = diag.message.partition(": ")[2].partition(" `")[0] or diag.message
        counts[reason] = counts.get(reason, 0) + 1
    by_count = ", ".join(f"{n} {why}" for why, n in sorted(counts.items(),
                                                            key=lambda item: (-item[1], item[0])))
    return (f"warning: {len(diagnostics)} loader calls name a model the scan cannot read: "
            f"{by_count} (--verbosity verbose lists each)")
