"""Reading the value at a model position statically: a string, None, a module-level name or
class attribute bound to a string (`symbols.py`), a parametrized argument of the test (its
rows are read later), or why it cannot be read, as the diagnostic says it."""

from __future__ import annotations

import ast

from .scope import ParamRef, Resolved, Scope, Unresolved
from .symbols import ConstantIndex, Missing


class ValueReader:
    """Reads values in the module `rel`; `model_names` are the configured repo and file
    names (an argument named so is a parametrized one, which a selection reads from pytest)."""

    def __init__(self, rel: str, index: ConstantIndex, model_names: frozenset[str]) -> None:
        self.rel, self.index, self.model_names = rel, index, model_names

    def read(self, node: ast.expr, scope: Scope) -> Resolved:
        if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str)):
            return node.value
        if isinstance(node, ast.Name):
            return self._name(node.id, scope)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            found = self.index.attribute(self.rel, node.value.id, node.attr)
            if not isinstance(found, Missing):
                return found
        kind = "f-string" if isinstance(node, ast.JoinedStr) else type(node).__name__.lower()
        return Unresolved(f"{kind} `{_short(node)}` cannot be read statically")

    def _name(self, name: str, scope: Scope) -> Resolved:
        if scope.is_param(name):
            return ParamRef(name)
        found = self.index.string(self.rel, name)
        if not isinstance(found, Missing):
            return found
        if name in scope.params:
            return Unresolved(f"function argument `{name}` cannot be followed statically",
                              name in self.model_names)
        return Unresolved(f"name `{name}` is not bound to a string at module level")


def _short(node: ast.expr) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."
