"""The house's rule, checked on the import graph: no stage imports a later one, and none
imports the entry points in `scanner/cli/` (lazy imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO_ROOT

#: Stages in pipeline order; a module may import its own stage and earlier ones.
ORDER = ["scan", "selection", "fetch", "output"]


def imported(path: Path) -> set[str]:
    """The `scanner` subpackages and modules `path` imports, as dotted names under scanner."""
    package = path.relative_to(REPO_ROOT).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package[: len(package) - node.level + 1])
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found |= {target} if node.module else {f"{target}.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scanner"):
            found.add(node.module or "")
    return {name for name in found if name.startswith("scanner")}


def stage(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ORDER) else None


def test_no_stage_imports_a_later_stage_or_the_entry_points() -> None:
    wrong = []
    for path in sorted((REPO_ROOT / "scanner").rglob("*.py")):
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        if module.startswith("scanner.cli"):
            continue
        own = stage(module)
        for target in imported(path):
            if target.startswith("scanner.cli"):
                wrong.append(f"{module} imports {target}")
            theirs = stage(target)
            if own in ORDER and theirs in ORDER and ORDER.index(theirs) > ORDER.index(own):
                wrong.append(f"{module} imports the later stage {target}")
    assert wrong == []
