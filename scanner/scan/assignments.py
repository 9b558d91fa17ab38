"""Pairing `x.model_hf_repo = ...` with the `x.model_hf_file = ...` that goes with it.

Within one function or class body, each assignment to a configured repo or file name is an
`Assignment`; a repo pairs with the file assigned to the same object nearest to it, looking
first after it and then before it, but never past another repo assignment to that object.
"""

from __future__ import annotations

import ast
from enum import Enum
from typing import NamedTuple


class Target(Enum):
    REPO = "repo"
    FILE = "file"


class Assignment(NamedTuple):
    target: Target
    base: str  # the object assigned to (`server`, `self.server`), `<class>` in a class body
    value: ast.expr
    line: int


def target_name(target: ast.expr, in_class: bool) -> tuple[str | None, str]:
    """(attribute or class-attribute name, the object it is set on); a plain local is none."""
    if isinstance(target, ast.Attribute):
        return target.attr, ast.unparse(target.value)
    if isinstance(target, ast.Name) and in_class:
        return target.id, "<class>"
    return None, ""


def pairs(assignments: list[Assignment]) -> list[tuple[Assignment, ast.expr | None]]:
    """Each repo assignment with its file value (None when none goes with it)."""
    found = []
    for i, repo in enumerate(assignments):
        if repo.target is Target.REPO:
            files = [a.value for a in _window(assignments, i) if a.target is Target.FILE]
            found.append((repo, files[0] if files else None))
    return found


def _window(assignments: list[Assignment], i: int) -> list[Assignment]:
    """Assignments to the same object between the previous and the next repo assignment to
    it, nearest first: those after `i`, then those before it."""
    base = assignments[i].base
    same = [j for j, a in enumerate(assignments) if a.base == base]
    pos = same.index(i)
    prev = next((j for j in reversed(same[:pos]) if assignments[j].target is Target.REPO), -1)
    nxt = next((j for j in same[pos + 1:] if assignments[j].target is Target.REPO),
               len(assignments))
    after = [assignments[j] for j in same if i < j < nxt]
    before = [assignments[j] for j in reversed(same) if prev < j < i]
    return after + before
