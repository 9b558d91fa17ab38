"""Small facts about syntax nodes that the walk asks often."""

from __future__ import annotations

import ast
from functools import lru_cache

from .parametrize import Row

_LEAVES = frozenset({ast.Name, ast.Load, ast.Store, ast.Del})
DEFINITIONS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})


def names_nothing(node: ast.AST) -> bool:
    """Names, load/store contexts and dotted names (`pytest.mark.parametrize`): nothing below
    them can name a model."""
    while type(node) is ast.Attribute:
        node = node.value
    return type(node) in _LEAVES


@lru_cache(maxsize=8)  # built once per scan, not once per file
def name_set(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(names)


def first_of(row: Row, names: tuple[str, ...]) -> ast.expr | None:
    """The value of the first of `names` (in configured order) that `row` has."""
    return next((row[n] for n in names if n in row), None)


def param_names(args: ast.arguments) -> frozenset[str]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return frozenset(a.arg for a in every if a is not None)
