"""Pairing `x.model_hf_repo = ...` with the `x.model_hf_file = ...` that goes with it.

Within one function or class body, each assignment to a configured repo or file name is an
`Assignment`; a repo pairs with the file assigned to the same object nearest to it, looking
first after it and then before it, but never past another repo assignment to that object.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from enum import Enum, auto
from typing import NamedTuple


class Target(Enum):
    REPO = auto()
    FILE = auto()


class Assignment(NamedTuple):
    target: Target
    base: str  # the object assigned to (`server`, `self.server`), `<class>` in a class body
    value: ast.expr
    line: int


def target_name(target: ast.expr, in_class: bool) -> tuple[str | None, str]:
    """(attribute or class-attribute name, the object it is set on); a plain local is none."""
    if isinstance(target, ast.Attribute):
        value = target.value  # `server.x = ...` is by far the most common: no unparse for it
        return target.attr, value.id if isinstance(value, ast.Name) else ast.unparse(value)
    if isinstance(target, ast.Name) and in_class:
        return target.id, "<class>"
    return None, ""


def pairs(assignments: list[Assignment]) -> list[tuple[Assignment, ast.expr | None]]:
    """Each repo assignment, in order, with its file value (None when none goes with it)."""
    by_base: dict[str, list[Assignment]] = {}
    for assignment in assignments:
        by_base.setdefault(assignment.base, []).append(assignment)
    paired: dict[int, ast.expr | None] = {}  # id of the repo assignment -> its file value
    for same in by_base.values():  # one pass per object assigned to: linear, not quadratic
        repos = [k for k, a in enumerate(same) if a.target is Target.REPO]
        for n, k in enumerate(repos):
            previous = repos[n - 1] if n else -1
            following = repos[n + 1] if n + 1 < len(repos) else len(same)
            after = _first_file(same[m] for m in range(k + 1, following))
            before = _first_file(same[m] for m in range(k - 1, previous, -1))
            paired[id(same[k])] = after if after is not None else before
    return [(a, paired[id(a)]) for a in assignments if a.target is Target.REPO]


def _first_file(nearest_first: Iterable[Assignment]) -> ast.expr | None:
    return next((a.value for a in nearest_first if a.target is Target.FILE), None)
