"""What a function or a class binds to a name, read from its syntax tree on demand: the plain
locals of a function (`repo_id = "org/name"`, `for model in MODELS:`) and the attributes of a
class (`MODEL = "org/name"` in its body, `self.model = ...` / `cls.model = ...` in a method).

Read only when a model position names something the module does not bind: most functions
never need it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import NamedTuple

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


class Binding(NamedTuple):
    value: ast.expr
    loop: bool  # `for name in value:`: the name takes each element of `value`


Bindings = dict[str, list[Binding]]


def local_bindings(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Bindings:
    """Names a function body binds (not those of functions or classes nested in it)."""
    found: Bindings = {}
    for stmt in _statements(function.body):
        if isinstance(stmt, (ast.For, ast.AsyncFor)) and isinstance(stmt.target, ast.Name):
            found.setdefault(stmt.target.id, []).append(Binding(stmt.iter, loop=True))
            continue
        for target, value in _assigned(stmt):
            if isinstance(target, ast.Name):
                found.setdefault(target.id, []).append(Binding(value, loop=False))
    return found


def class_bindings(cls: ast.ClassDef) -> Bindings:
    """Class-body names, and attributes its methods set on `self` or `cls`."""
    found: Bindings = {}
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in _statements(stmt.body):
                for target, value in _assigned(inner):
                    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                            and target.value.id in ("self", "cls")):
                        found.setdefault(target.attr, []).append(Binding(value, loop=False))
            continue
        for target, value in _assigned(stmt):
            if isinstance(target, ast.Name):
                found.setdefault(target.id, []).append(Binding(value, loop=False))
    return found


def _assigned(stmt: ast.stmt) -> Iterator[tuple[ast.expr, ast.expr]]:
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            yield target, stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        yield stmt.target, stmt.value


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of a body, into `if`, `with`, `for`, `try` blocks, not into nested
    functions or classes (their names are their own)."""
    todo = list(reversed(body))
    while todo:
        stmt = todo.pop()
        yield stmt
        if isinstance(stmt, _SCOPES):
            continue
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                todo.extend(reversed([s for s in inner if isinstance(s, ast.stmt)]))
            if field in ("handlers", "cases") and isinstance(inner, list):
                for holder in inner:
                    todo.extend(reversed(holder.body))
