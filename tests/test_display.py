"""What a person watches: repo and file names never cut to "…" (no one can copy that; the
other columns wrap first, and a name wider than the terminal folds whole onto the next line),
and one live display at a time (xdist's status line ends before the tool's spinner starts)."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from scanner.output.console import print_table
from scanner.selection.standalone import fetch_test_models_selection as plugin

REPO = "ggml-org/tinygemma3-GGUF-with-a-long-name"
FILE = "tinyllamas/split/stories15M-q8_0-00001-of-00003.gguf"


def rendered(width: int) -> str:
    console = Console(file=io.StringIO(), width=width)
    print_table(console, ("model", "files", "size", "status"),
                [(REPO, FILE, "12.3 MB", "to download, resumed from an earlier run")],
                right="size")
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_at_120_columns_each_name_is_whole_on_one_line() -> None:
    text = rendered(120)
    assert REPO in text and FILE in text and "…" not in text
    assert "resumed" in text  # the status wrapped instead


@pytest.mark.parametrize("width", [60, 80])
def test_on_a_narrow_terminal_each_name_folds_whole(width: int) -> None:
    text = rendered(width)
    assert "…" not in text
    cells = [line.split("│") for line in text.splitlines()[2:]]
    for column, name in ((0, REPO), (1, FILE)):
        assert "".join(cell[column].strip() for cell in cells if len(cell) > column) == name


@pytest.mark.parametrize("pytest_8_3", [False, True])
@pytest.mark.parametrize(("tty", "said"), [(True, ["\n", "told the tool"]),
                                           (False, ["told the tool"])])
def test_xdist_s_status_line_ends_before_the_tool_s_display_starts(
    tty: bool, said: list[str], pytest_8_3: bool, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal, "ready: 1/4 workers" (rewritten in place, with no newline) must not share
    its line with the tool's spinner while the run waits for the fetch. Up to pytest 8.3 (which
    llama.cpp's requirements pin) the reporter's `isatty` is a bool, not a method."""
    written: list[str] = []

    class Reporter:
        def isatty(self) -> bool:
            return tty

        def write(self, text: str, **markup: Any) -> None:
            written.append(text)

    reporter = Reporter()
    if pytest_8_3:
        reporter.isatty = tty  # type: ignore[assignment,method-assign]
    config = SimpleNamespace(pluginmanager=SimpleNamespace(
        get_plugin=lambda name: reporter if name == "terminalreporter" else None))
    (tmp_path / "selection.json").write_text("{}")
    monkeypatch.setenv(plugin.OUTPUT_VAR, str(tmp_path / "selection.json"))
    monkeypatch.setattr(plugin, "_wait_for_the_tool", lambda: written.append("told the tool"))
    plugin._XdistController(config).pytest_xdist_node_collection_finished(None, [])  # type: ignore[arg-type]
    assert written == said
