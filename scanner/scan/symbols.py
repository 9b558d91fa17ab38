"""Module-level names a scan can follow: string constants, literal row lists and imports.

The index knows every scanned file from the start but reads a module's names only when first
asked (its own scan, or a lookup that follows `from utils import MODEL`), so that a file's syntax
tree can be dropped as soon as it is scanned, whatever order the files come in.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePosixPath


class Missing(Enum):
    """Typed sentinel: a name that cannot be followed (None is a valid bound value)."""

    NOT_FOUND = "not found"


NOT_FOUND = Missing.NOT_FOUND


@dataclass
class ModuleConstants:
    """What one module binds at its top level."""

    rel: str
    strings: dict[str, str | None] = field(default_factory=dict)
    rows: dict[str, ast.expr] = field(default_factory=dict)
    imported: dict[str, tuple[str, str]] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    parametrize_aliases: set[str] = field(default_factory=set)


def collect_constants(rel: str, tree: ast.Module) -> ModuleConstants:
    """Read only the top-level statements: cheap, and all a constant lookup needs."""
    info = ModuleConstants(rel)
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            _bind(info, stmt.targets[0], stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            _bind(info, stmt.target, stmt.value)
        elif isinstance(stmt, ast.ImportFrom) and stmt.module:
            # the dotted name of an absolute import: a project module beside the suite is
            # found by it (`from myproj.test.utils import MODEL`)
            key = stmt.module if stmt.level == 0 else stmt.module.rsplit(".", 1)[-1]
            for alias in stmt.names:
                if alias.name == "*":
                    info.star_imports.append(key)  # llama.cpp's tests: `from utils import *`
                else:
                    info.imported[alias.asname or alias.name] = (key, alias.name)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                local = alias.asname or alias.name.split(".", 1)[0]
                info.modules[local] = alias.name
    for local, (module, name) in info.imported.items():
        if name == "parametrize" and module.rsplit(".", 1)[-1] in ("pytest", "mark"):
            info.parametrize_aliases.add(local)
    return info


def _bind(info: ModuleConstants, target: ast.expr, value: ast.expr) -> None:
    if not isinstance(target, ast.Name):
        return
    value = environment_default(value) or value  # `MODEL = os.environ.get("X", "org/name")`
    if isinstance(value, ast.Constant) and (value.value is None or isinstance(value.value, str)):
        info.strings[target.id] = value.value
    elif isinstance(value, (ast.List, ast.Tuple, ast.Dict, ast.Set)):
        info.rows[target.id] = value
    elif isinstance(value, ast.Attribute) and value.attr == "parametrize":
        info.parametrize_aliases.add(target.id)


def environment_default(node: ast.expr) -> ast.expr | None:
    """The default of `os.environ.get(NAME, DEFAULT)`, `os.getenv(NAME, DEFAULT)`: what the
    tests load unless the variable is set."""
    if not (isinstance(node, ast.Call) and len(node.args) == 2):
        return None
    func = node.func
    if isinstance(func, ast.Name):
        return node.args[1] if func.id == "getenv" else None
    if not isinstance(func, ast.Attribute):
        return None
    owner = func.value
    owner_name = owner.attr if isinstance(owner, ast.Attribute) else \
        owner.id if isinstance(owner, ast.Name) else ""
    if func.attr == "getenv" or (func.attr == "get" and owner_name == "environ"):
        return node.args[1]
    return None


class ConstantIndex:
    """Looks a name up in a module, following imports into other scanned modules.

    `load(rel)` reads a module's names (None when it cannot be parsed); each is read once.
    """

    def __init__(self, rels: Iterable[str],
                 load: Callable[[str], ModuleConstants | None],
                 locate: Callable[[str], str | None] = lambda dotted: None) -> None:
        self._load = load
        self._locate = locate  # a dotted module no scanned file is: its file under the root
        self._loaded: dict[str, ModuleConstants] = {}
        self._by_stem: dict[str, list[str]] = {}
        self._nearest: dict[tuple[str, str], str | None] = {}  # (folder, module) -> its file
        for rel in rels:  # string operations: a PurePosixPath per file cost a fifth of a scan
            folder, _, name = rel.rpartition("/")
            dot = name.rfind(".")
            stem = name[:dot] if 0 < dot < len(name) - 1 else name  # PurePath.stem's rule
            if stem == "__init__":
                stem = folder.rpartition("/")[2]
            self._by_stem.setdefault(stem, []).append(rel)

    def add(self, constants: ModuleConstants) -> None:
        """Names read by the caller from a tree it already has: saves parsing it again."""
        self._loaded.setdefault(constants.rel, constants)

    def module(self, rel: str) -> ModuleConstants:
        if rel not in self._loaded:
            self._loaded[rel] = self._load(rel) or ModuleConstants(rel)
        return self._loaded[rel]

    def string(self, rel: str, name: str) -> str | Missing | None:
        """The string (or None) bound to `name` as seen from `rel`, else `NOT_FOUND`."""
        return _as_string(self._lookup(rel, name, "strings", depth=0))

    def rows(self, rel: str, name: str) -> ast.expr | Missing:
        """The literal list/tuple bound to `name` as seen from `rel`, else `NOT_FOUND`."""
        found = self._lookup(rel, name, "rows", depth=0)
        return found if isinstance(found, ast.expr) else NOT_FOUND

    def attribute(self, rel: str, module_name: str, name: str) -> str | Missing | None:
        """`utils.MODEL` where `utils` was imported as a module."""
        key = self.module(rel).modules.get(module_name)
        target = self._find_module(rel, key) if key else None
        return _as_string(self._lookup(target.rel, name, "strings", depth=1)) if target \
            else NOT_FOUND

    def _lookup(self, rel: str, name: str, kind: str, depth: int) -> object:
        module = self.module(rel)
        table: dict[str, object] = getattr(module, kind)
        if name in table:
            return table[name]
        if depth >= 8:
            return NOT_FOUND
        if name in module.imported:
            key, original = module.imported[name]
            target = self._find_module(rel, key)
            return self._lookup(target.rel, original, kind, depth + 1) if target else NOT_FOUND
        for key in module.star_imports:
            target = self._find_module(rel, key)
            found = self._lookup(target.rel, name, kind, depth + 1) if target else NOT_FOUND
            if found is not NOT_FOUND:
                return found
        return NOT_FOUND

    def _find_module(self, importer: str, key: str) -> ModuleConstants | None:
        """Prefer the scanned candidate closest to the importing file: same folder, then parents;
        else the project's module of that dotted name. Chosen once per folder: every name a
        test reads through `from utils import *` asks again."""
        folder = importer.rpartition("/")[0]
        if (folder, key) not in self._nearest:
            stem = key.rpartition(".")[2]
            found = _nearest(folder, self._by_stem.get(stem, []))
            self._nearest[folder, key] = found or self._locate(key)
        found = self._nearest[folder, key]
        return None if found is None else self.module(found)


def _nearest(folder: str, candidates: list[str]) -> str | None:
    here = PurePosixPath(folder)

    def distance(rel: str) -> tuple[int, str]:
        there = PurePosixPath(rel).parent
        shared = len(_common_parts(here, there))
        return (len(here.parts) - shared + len(there.parts) - shared, rel)

    return min(candidates, key=distance) if candidates else None


def _common_parts(a: PurePosixPath, b: PurePosixPath) -> tuple[str, ...]:
    common = []
    for x, y in zip(a.parts, b.parts, strict=False):
        if x != y:
            break
        common.append(x)
    return tuple(common)


def _as_string(found: object) -> str | Missing | None:
    return found if found is None or isinstance(found, (str, Missing)) else NOT_FOUND
