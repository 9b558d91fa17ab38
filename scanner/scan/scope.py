"""Where the visitor is: the enclosing function or class, its parametrize rows and the
assignments seen in its body; and what a name at a model position resolves to."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .assignments import Assignment
from .bindings import Bindings, class_bindings, local_bindings
from .parametrize import Row, combine


@dataclass(frozen=True)
class ParamRef:
    """A name that is a parametrized argument of the enclosing test."""

    name: str


@dataclass(frozen=True)
class Unresolved:
    reason: str
    #: an argument with a configured repo/file name: its values are parametrize's, which a
    #: selection reads from pytest
    parametrized: bool = False


Resolved = str | None | ParamRef | Unresolved


@dataclass
class Scope:
    qualname: str
    params: frozenset[str] = frozenset()
    is_class: bool = False
    rows: list[Row] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    parent: Scope | None = None
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None = None
    #: argnames whose rows a loader call read: their values are references of that loader
    loaded: set[str] = field(default_factory=set)
    _bindings: Bindings | None = None

    def bindings(self) -> Bindings:
        """The function's locals, or the class's attributes; read once, when first asked."""
        if self._bindings is None:
            node = self.node
            self._bindings = ({} if node is None else class_bindings(node)
                              if isinstance(node, ast.ClassDef) else local_bindings(node))
        return self._bindings

    def enclosing_class(self) -> Scope | None:
        scope: Scope | None = self
        while scope is not None and not scope.is_class:
            scope = scope.parent
        return scope

    def param_rows(self) -> list[Row]:
        """Rows of every enclosing parametrize level combined, as pytest combines them."""
        levels: list[list[Row]] = []
        scope: Scope | None = self
        while scope is not None:
            if scope.rows:
                levels.append(scope.rows)
            scope = scope.parent
        return combine(*reversed(levels)) if levels else []

    def is_param(self, name: str) -> bool:
        scope: Scope | None = self
        while scope is not None:
            if scope.rows and name in scope.rows[0]:
                return True
            scope = scope.parent
        return False
