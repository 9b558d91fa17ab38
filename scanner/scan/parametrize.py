"""Reading one `@pytest.mark.parametrize(...)` mark: a pure function over its syntax tree.

`parse_parametrize` returns the argument names, the literal rows (argname -> value node) and
what it could not read, with the line; it knows nothing of models or of the scan that calls it.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable, Iterable
from typing import NamedTuple

Row = dict[str, ast.expr]
#: Looks a module-level name up (following imports): its literal list/tuple, or None.
RowsLookup = Callable[[str], ast.expr | None]


class Problem(NamedTuple):
    line: int
    message: str


class Parametrize(NamedTuple):
    names: list[str]
    rows: list[Row] | None  # None: argvalues could not be read at all
    problems: list[Problem]  # rows or argvalues that are not literals, rows of the wrong size


def is_parametrize_call(node: ast.AST, aliases: Iterable[str]) -> bool:
    """`pytest.mark.parametrize(...)`, `mark.parametrize(...)`, or an imported alias of it."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr == "parametrize"
    return isinstance(func, ast.Name) and func.id in aliases


def parse_parametrize(call: ast.Call, rows_of: RowsLookup) -> Parametrize | None:
    """The mark's names and rows; None when its argnames cannot be read at all."""
    keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
    names = _argnames(call.args[0] if call.args else keywords.get("argnames"))
    values = call.args[1] if len(call.args) > 1 else keywords.get("argvalues")
    if names is None or values is None:
        return None
    if isinstance(values, ast.Name):
        found = rows_of(values.id)
        if found is None:
            return Parametrize(names, None, [Problem(call.lineno, (
                f"argvalues name {values.id!r} is not a literal list or tuple at module level; "
                "cannot follow it"))])
        values = found
    if isinstance(values, ast.Dict):  # pytest iterates a dict: its keys are the rows
        values = ast.List([k for k in values.keys if k is not None], ast.Load())
    elif isinstance(values, ast.Set):
        values = ast.List(values.elts, ast.Load())
    if not isinstance(values, (ast.List, ast.Tuple)):
        return Parametrize(names, None, [Problem(call.lineno,
                                                 "argvalues is not a literal list or tuple")])
    rows: list[Row] = []
    problems: list[Problem] = []
    for node in values.elts:
        row = _row(names, node)
        if isinstance(row, Problem):
            problems.append(row)
        else:
            rows.append(row)
    return Parametrize(names, rows, problems)


def combine(*levels: list[Row]) -> list[Row]:
    """Rows of stacked marks or nested levels, combined as pytest does: every pairing."""
    return [merge(combo) for combo in itertools.product(*levels)]


def merge(rows: Iterable[Row]) -> Row:
    merged: Row = {}
    for row in rows:
        merged.update(row)
    return merged


def _row(names: list[str], row: ast.expr) -> Row | Problem:
    if _is_param_call(row):
        assert isinstance(row, ast.Call)
        values = row.args
    elif len(names) == 1:
        values = [row]
    elif isinstance(row, (ast.Tuple, ast.List)):
        values = row.elts
    else:
        return Problem(row.lineno, "parametrize row is not a literal tuple, list or "
                                   "pytest.param(...)")
    if len(values) != len(names):
        return Problem(row.lineno, f"parametrize row has {len(values)} values for "
                                   f"{len(names)} argnames")
    return dict(zip(names, values, strict=True))


def _argnames(node: ast.expr | None) -> list[str] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [n.strip() for n in node.value.split(",") if n.strip()]
    if isinstance(node, (ast.List, ast.Tuple)):
        names = [e.value for e in node.elts if isinstance(e, ast.Constant)]
        if len(names) == len(node.elts) and all(isinstance(n, str) for n in names):
            return [str(n).strip() for n in names]
    return None


def _is_param_call(node: ast.expr) -> bool:
    """`pytest.param(...)` or an imported `param(...)`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, (ast.Attribute, ast.Name))
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "param"
    )
