"""Pairing `x.model_hf_repo = ...` with the `x.model_hf_file = ...` that goes with it.

Within one function or class body, each assignment to a configured repo or file name is an
`Assignment`; a repo pairs with the file assigned to the same object nearest to it, looking
first after it and then before it, but never past another repo assignment to that object.
"""

from __future__ import annotations

import ast
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
    """Each repo assignment, in order, with its file value (None when none goes with it).

    One pass: a repo first takes the nearest file before it (since that object's previous
    repo), and the first file after it (before its next repo) replaces that."""
    paired: list[tuple[Assignment, ast.expr | None]] = []
    latest_repo: dict[str, int] = {}  # object -> index in `paired` of its repo still open
    file_before: dict[str, ast.expr] = {}  # object -> its nearest file since its last repo
    for assignment in assignments:
        base = assignment.base
        if assignment.target is Target.REPO:
            latest_repo[base] = len(paired)
            paired.append((assignment, file_before.pop(base, None)))
            continue
        file_before[base] = assignment.value
        open_repo = latest_repo.pop(base, None)  # only the first file after a repo is its own
        if open_repo is not None:
            paired[open_repo] = (paired[open_repo][0], assignment.value)
    return paired
