"""The house's rule, checked on the import graph: no stage imports a later one, and none
imports the entry points in `scanner/cli/` (lazy imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO_ROOT

#: Folders in the order they may import one another; a module may import its own folder and
#: earlier ones. llama.cpp's and the frameworks' rules are pure, read by every stage; then the
#: user's setup and the cache layout; then the pipeline: scan, selection, the Hub, fetch (resolve,
#: plan, download), prune, output. `cli/` drives them all and none imports it.
ORDER = ["llama", "frameworks", "cache", "setup", "scan", "selection", "hub", "fetch", "prune",
         "output"]
#: The modules at the top of `scanner/`: what every folder shares, importing none of them.
SHARED = {"__init__.py", "errors.py", "limits.py", "models.py"}


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


def test_every_folder_has_its_place_and_the_top_holds_only_what_all_share() -> None:
    scanner = REPO_ROOT / "scanner"
    folders = {p.name for p in scanner.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders - {"cli"} == set(ORDER)
    assert {p.name for p in scanner.glob("*.py")} == SHARED


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


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The modules of `modules` that `path` imports, wherever the import is (under
    TYPE_CHECKING or inside a function too): `from .x import name` is module `x.name` when
    that is a module, else `x`."""
    found = set()
    for target in imported(path):
        while target not in modules and "." in target:
            target = target.rsplit(".", 1)[0]
        found.add(target)
    for node in ast.walk(ast.parse(path.read_text())):  # `from .pkg import module`
        if isinstance(node, ast.ImportFrom) and node.module:
            package = module_name(path) if path.name == "__init__.py" else (
                module_name(path).rsplit(".", 1)[0])
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            prefix = ".".join([*base, node.module]) if node.level else node.module
            found |= {f"{prefix}.{a.name}" for a in node.names} & modules
    return found - {module_name(path)}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each group of nodes that reach one another (Tarjan's strongly connected components),
    sorted; a node alone is no circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def import_graph() -> dict[str, set[str]]:
    paths = sorted((REPO_ROOT / "scanner").rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, modules) for path in paths}


def folder(module: str, graph: dict[str, set[str]]) -> str:
    """The package a module's file is in (a package's `__init__` is in its own folder)."""
    is_package = any(other.startswith(module + ".") for other in graph)
    return module if is_package else module.rsplit(".", 1)[0]


def test_no_import_circle_between_modules() -> None:
    assert circles(import_graph()) == []


def test_no_import_circle_between_folders() -> None:
    graph = import_graph()
    folders: dict[str, set[str]] = {}
    for module, targets in graph.items():
        folders.setdefault(folder(module, graph), set()).update(
            folder(target, graph) for target in targets)
    assert circles({name: targets - {name} for name, targets in folders.items()}) == []
