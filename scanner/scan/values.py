"""Reading the value at a model position statically: a string, None, a module-level name or
class attribute bound to a string (`symbols.py`), a parametrized argument of the test (its
rows are read later), or why it cannot be read, as the diagnostic says it.

`read_all` follows further, for the framework calls: a function's plain locals, the loop
variable of `for model in MODELS:` (each element), `self.model` / `cls.model` set anywhere in
the class, and the default of `os.environ.get("X_MODEL", "org/name")` / `os.getenv(...)`.
"""

from __future__ import annotations

import ast

from .bindings import Binding
from .scope import ParamRef, Resolved, Scope, Unresolved
from .symbols import ConstantIndex, Missing, environment_default

MAX_DEPTH = 6
MAX_VALUES = 256  # elements of one container a loop may take


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
        return _unreadable(node)

    def read_all(self, node: ast.expr, scope: Scope, depth: int = 0) -> list[Resolved]:
        """Every value the node may hold (one for most); followed past what `read` does."""
        first = self.read(node, scope)
        if not isinstance(first, Unresolved) or depth > MAX_DEPTH:
            return [first]
        if isinstance(node, (ast.IfExp, ast.BoolOp)):  # `A if cond else B`, `X or DEFAULT`
            branches = [node.body, node.orelse] if isinstance(node, ast.IfExp) else node.values
            found = [v for b in branches for v in self.read_all(b, scope, depth + 1)]
            readable = [v for v in found if not isinstance(v, Unresolved)]
            return list(dict.fromkeys(readable)) or found[:1]
        if isinstance(node, ast.Name) and node.id not in scope.params:
            bindings = _local(scope, node.id)
            if bindings:
                return self._bound(bindings, scope, depth)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = scope.enclosing_class()
            bindings = owner.bindings().get(node.attr) if owner else None
            if owner and bindings and node.value.id in ("self", "cls",
                                                        owner.qualname.rpartition(".")[2]):
                return self._bound(bindings, owner, depth)
        default = environment_default(node)
        if default is not None:
            return self.read_all(default, scope, depth + 1)
        return [first]

    def elements(self, node: ast.expr, scope: Scope, depth: int = 0) -> list[Resolved]:
        """The values of a container a loop walks: a literal list, tuple or set, a dict's keys,
        or a module-level name bound to one."""
        if isinstance(node, ast.Name):
            found = self.index.rows(self.rel, node.id)
            if isinstance(found, Missing):
                return [Unresolved(f"loop over `{node.id}`, not a literal list at module level")]
            node = found
        items = node.keys if isinstance(node, ast.Dict) else \
            node.elts if isinstance(node, (ast.List, ast.Tuple, ast.Set)) else None
        if items is None:
            return [_unreadable(node)]
        values: list[Resolved] = []
        for item in items[:MAX_VALUES]:
            if item is not None:
                values.extend(self.read_all(item, scope, depth + 1))
        return values

    def _bound(self, bindings: list[Binding], scope: Scope, depth: int) -> list[Resolved]:
        values: list[Resolved] = []
        for binding in bindings:
            if binding.loop:
                values.extend(self.elements(binding.value, scope, depth + 1))
            else:
                values.extend(self.read_all(binding.value, scope, depth + 1))
        return list(dict.fromkeys(values))

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


def _local(scope: Scope, name: str) -> list[Binding] | None:
    """The bindings of `name` in the nearest enclosing function that binds it."""
    current: Scope | None = scope
    while current is not None and not current.is_class and current.node is not None:
        found = current.bindings().get(name)
        if found:
            return found
        current = current.parent
    return None


def _unreadable(node: ast.expr) -> Unresolved:
    kind = "f-string" if isinstance(node, ast.JoinedStr) else type(node).__name__.lower()
    return Unresolved(f"{kind} `{_short(node)}` cannot be read statically")


def _short(node: ast.expr) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."
