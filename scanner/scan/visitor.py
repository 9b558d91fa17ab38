"""The static scan of one parsed test file for model references.

Only statements whose lines mention a model name, `parametrize` or a Hub URL are walked, which
keeps the scan close to the cost of `ast.parse` itself on large suites.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import Any

from ..llama.preset import may_hold_preset, preset_models
from ..llama.repo_id import model_problem
from ..models import Diagnostic, ReferenceKind
from .assignments import Assignment, Target, pairs, target_name
from .calls import FrameworkReferences
from .candidates import candidate_lines
from .config import ScanConfig
from .contexts import ModelContexts
from .found import Found
from .loaders import call_name, read_call
from .parametrize import Row, combine, is_parametrize_call, merge, parse_parametrize
from .scope import ParamRef, Resolved, Scope, Unresolved
from .symbols import ConstantIndex, Missing
from .syntax import DEFINITIONS, first_of, name_set, names_nothing, param_names
from .values import ValueReader


class FileScanner(FrameworkReferences, ModelContexts):
    """Scans one module; results land in `found` and `diagnostics`."""

    def __init__(self, rel: str, source: str, tree: ast.Module, config: ScanConfig,
                 url_regex: re.Pattern[str], index: ConstantIndex) -> None:
        self.rel, self.tree, self.config, self.url_regex = rel, tree, config, url_regex
        self.index = index
        self.constants = index.module(rel)
        self.repo_names = name_set(config.repo_names)
        self.file_names = name_set(config.file_names)
        self.values = ValueReader(rel, index, name_set(config.repo_names + config.file_names))
        self.found: dict[Found, None] = {}  # in order, each once
        self.diagnostics: dict[Diagnostic, None] = {}
        self.datasets: set[str] = set()
        self.run_time: dict[tuple[str, int, str], None] = {}  # (what, line, test), in order
        self.consumed: set[int] = set()
        self.launchers = name_set(config.launchers)
        self.model_names = name_set(config.repo_names + config.file_names)
        self._lines = candidate_lines(source, config)
        self._line_set = frozenset(self._lines)
        self._source = source  # split into lines only when preset text is found
        self._source_lines: list[str] | None = None

    def scan(self) -> None:
        module = Scope("<module>")
        self._visit_body(self.tree.body, module)
        self._pair_assignments(module)
        self.shaped_rows(module, self.model_names)
        self.module_containers(self.tree, module)

    # -- walking -----------------------------------------------------------------------------

    def _touches(self, node: ast.AST) -> bool:
        start = getattr(node, "lineno", None)
        if start is None:
            return True
        for deco in getattr(node, "decorator_list", ()):
            start = min(start, deco.lineno)
        end = getattr(node, "end_lineno", None) or start
        i = bisect_left(self._lines, start)
        return i < len(self._lines) and self._lines[i] <= end

    def _visit_body(self, body: list[ast.stmt], scope: Scope) -> None:
        for stmt in body:
            if stmt.lineno == stmt.end_lineno and type(stmt) not in DEFINITIONS:
                # most statements: one line, nothing above it (decorators); a set decides
                if stmt.lineno in self._line_set:
                    self._visit(stmt, scope, whole=True)
            elif self._touches(stmt):
                self._visit(stmt, scope)

    def _visit(self, node: ast.AST, scope: Scope, whole: bool = False) -> None:
        """Walk a node that touches a candidate line; `whole`: every line of it does. Each
        concern has its handler (`_HANDLERS`, by node type); the walk is shared."""
        handler = _HANDLERS.get(type(node))
        children = ast.iter_child_nodes(node) if handler is None else handler(self, node, scope)
        if children is None:
            return
        # a touched node on one line is touched throughout: its children need no check
        whole = whole or getattr(node, "lineno", 0) == getattr(node, "end_lineno", -1)
        for child in children:  # leaves are decided here: a call per leaf was a third of it
            if names_nothing(child) or not (whole or self._touches(child)):
                continue
            if type(child) is ast.Constant:
                self._on_string(child, scope)
            else:
                self._visit(child, scope, whole)

    def _visit_definition(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, outer: Scope
    ) -> None:
        qualname = node.name if outer.qualname == "<module>" else f"{outer.qualname}.{node.name}"
        params = frozenset() if isinstance(node, ast.ClassDef) else param_names(node.args)
        scope = Scope(qualname, params, isinstance(node, ast.ClassDef), parent=outer, node=node)
        if not isinstance(node, ast.ClassDef):
            self.named_defaults(node, scope)
        sets = [s for d in node.decorator_list
                if (s := self._parametrize_rows(d, scope)) is not None]
        if sets:
            scope.rows = self._emit_rows(sets, scope)
        for deco in node.decorator_list:  # parametrize rows too: they may hold Hub URLs
            if self._touches(deco):
                self._visit(deco, scope)  # what a decorator names, its test needs
        self._visit_body(node.body, scope)
        self._pair_assignments(scope)
        if scope.rows:
            self.shaped_rows(scope, self.model_names)

    # -- parametrize -------------------------------------------------------------------------

    def _is_parametrize_call(self, node: ast.AST) -> bool:
        return is_parametrize_call(node, self.constants.parametrize_aliases)

    def _parametrize_rows(self, node: ast.expr, scope: Scope) -> list[Row] | None:
        """Rows of one `parametrize(...)` mark; what cannot be read is diagnosed when the mark
        names a model argument."""
        if not self._is_parametrize_call(node):
            return None
        assert isinstance(node, ast.Call)
        parsed = parse_parametrize(node, self._module_rows)
        if parsed is None:
            return None
        if self._mentions_model(parsed.names):
            for problem in parsed.problems:
                self._diagnose(problem.line, problem.message, scope, "parametrize")
        return parsed.rows

    def _module_rows(self, name: str) -> ast.expr | None:
        found = self.index.rows(self.rel, name)
        return None if isinstance(found, Missing) else found

    def _mentions_model(self, names: list[str]) -> bool:
        return any(n in self.repo_names or n in self.file_names for n in names)

    def _emit_rows(self, sets: list[list[Row]], scope: Scope) -> list[Row]:
        """Stacked marks combine as pytest does: every pairing of their rows, and each of those
        with the rows of the enclosing levels (class, module `pytestmark`)."""
        rows = combine(*sets)
        outer = (scope.parent.param_rows() if scope.parent else []) or [{}]
        # a row naming no model here only repeats what its enclosing level already emitted
        own_rows = [own for own in rows if self._mentions_model(list(own))]
        for row in (merge((above, own)) for above in outer for own in own_rows):
            repo_node = first_of(row, self.config.repo_names)
            if repo_node is not None:
                file_node = first_of(row, self.config.file_names)
                self._emit_nodes(repo_node, file_node, repo_node.lineno, "parametrize", scope)
        return rows

    def _pytestmark(self, value: ast.expr, scope: Scope) -> None:
        marks = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
        sets = [s for m in marks if (s := self._parametrize_rows(m, scope)) is not None]
        if sets:
            scope.rows = self._emit_rows(sets, scope)

    # -- assignments and keywords -----------------------------------------------------------

    def _on_assignment(self, node: ast.Assign | ast.AnnAssign,
                       scope: Scope) -> Iterable[ast.AST]:
        """`x.model_hf_repo = ...`, `hf_file = ...`, `pytestmark = ...`: recorded for pairing
        at the end of the scope; only the value is walked on (targets hold no model)."""
        value = node.value
        if value is None:
            return ()
        for target in node.targets if isinstance(node, ast.Assign) else (node.target,):
            if type(target) is ast.Name and target.id == "pytestmark":
                self._pytestmark(value, scope)
                continue
            name, base = target_name(target, in_class=scope.is_class)
            if name in self.repo_names:
                scope.assignments.append(Assignment(Target.REPO, base, value, node.lineno))
            elif name in self.file_names:
                scope.assignments.append(Assignment(Target.FILE, base, value, node.lineno))
        self.named_values(node.targets if isinstance(node, ast.Assign) else (node.target,),
                          value, scope)
        return (value,)

    def _pair_assignments(self, scope: Scope) -> None:
        for repo, file_value in pairs(scope.assignments):
            self._emit_nodes(repo.value, file_value, repo.line, "assignment", scope)

    def _on_call(self, call: ast.Call, scope: Scope) -> Iterable[ast.AST]:
        """`ServerProcess(model_hf_repo=..., model_hf_file=...)`; its arguments are walked on."""
        given = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        file_node = first_of(given, self.config.file_names)
        for name in self.config.repo_names:
            if name in given:
                self._emit_nodes(given[name], file_node, call.lineno, "keyword", scope)
        loaded = read_call(call, self.launchers)
        if loaded is not None:
            self.on_loader(loaded, call, scope)
        elif call_name(call.func)[0] == "expand":
            self.expanded_rows(call, scope)
        elif given or call.args:
            self.on_mark(call, scope)
        if given:
            self.named_keywords(call, scope)
        return ast.iter_child_nodes(call)

    def _on_list(self, node: ast.List | ast.Tuple, scope: Scope) -> Iterable[ast.AST]:
        self.on_arguments(node, scope)
        return node.elts

    def _on_string(self, node: ast.Constant, scope: Scope) -> None:
        """Hub URLs in any string (`https://huggingface.co/org/name/resolve/REV/PATH`), and
        preset text a test writes (`"[name]\\nhf-repo = org/name:TAG\\n"`)."""
        if not isinstance(node.value, str):
            return
        if may_hold_preset(node.value):
            self._source_lines = self._source_lines or self._source.splitlines()
            for entry in preset_models(node.value, strict=False):
                if entry.hf_repo:  # on the line (of a string over several) that names it
                    named = re.compile(re.escape(entry.hf_repo) + r"(?![\w.:-])")
                    line = next((n for n in range(node.lineno, (node.end_lineno or 0) + 1)
                                 if named.search(self._source_lines[n - 1])), node.lineno)
                    self._add(entry.hf_repo, entry.hf_file, None, line, "preset", scope)
        if "--model" in node.value:
            self.flags_in_text(node.value, node.lineno, scope)
        if id(node) in self.consumed:
            return  # a loader call's argument: recorded with its loader
        hub_url = "/resolve/" in node.value or "/blob/" in node.value
        for match in self.url_regex.finditer(node.value) if hub_url else ():
            self._add(match["repo"], match["path"], match["rev"], node.lineno, "url", scope)

    # -- references and diagnostics ----------------------------------------------------------

    def _emit_nodes(self, repo_node: ast.expr, file_node: ast.expr | None, line: int,
                    kind: ReferenceKind, scope: Scope) -> None:
        repo = self.values.read(repo_node, scope)
        file = None if file_node is None else self.values.read(file_node, scope)
        if not (isinstance(repo, ParamRef) or isinstance(file, ParamRef)):
            self._emit_values(repo, file, line, kind, scope)
        elif not (isinstance(repo, ParamRef) and repo.name in self.repo_names):
            # (a repo argument named like a model argument: the mark itself was the reference)
            for row in scope.param_rows():
                r = self.values.read(row[repo.name], scope) if isinstance(repo, ParamRef) else repo
                f = self.values.read(row[file.name], scope) if isinstance(file, ParamRef) else file
                self._emit_values(r, f, line, kind, scope)

    def _emit_values(self, repo: Resolved, file: Resolved, line: int, kind: ReferenceKind,
                     scope: Scope) -> None:
        """A reference when both names are read; else a diagnostic for the first that cannot
        be, or nothing (no repo, or an argument whose rows were emitted at the mark)."""
        if isinstance(repo, str) and (file is None or isinstance(file, str)):
            self._add(repo, file, None, line, kind, scope)
            return
        for value, what in ((repo, "repo"), (file, "file")):
            if isinstance(value, Unresolved):
                self._diagnose(line, f"model {what}: {value.reason}", scope,
                               "parametrize" if value.parametrized else kind)
                return

    def _add(self, repo: str, file: str | None, revision: str | None, line: int,
             kind: ReferenceKind, scope: Scope) -> None:
        """Record a reference, or a diagnostic when llama.cpp would refuse the names."""
        problem = model_problem(repo, file)
        if problem:
            self._diagnose(line, problem, scope, kind)
        else:
            self.found[(repo, file, revision, line, scope.qualname, kind, None, None, ())] = None

    def _diagnose(self, line: int, message: str, scope: Scope,
                  kind: ReferenceKind | None = None) -> None:
        diag = Diagnostic(file=self.rel, line=line, severity="warning", message=message,
                          test=scope.qualname, kind=kind)
        self.diagnostics[diag] = None


#: One handler per concern, by node type: it returns the children to walk on, or None.
_HANDLERS: dict[type, Callable[[FileScanner, Any, Scope], Iterable[ast.AST] | None]] = {
    ast.Constant: FileScanner._on_string,
    ast.Assign: FileScanner._on_assignment,
    ast.AnnAssign: FileScanner._on_assignment,
    ast.Call: FileScanner._on_call,
    ast.Return: FileScanner.returned,
    ast.List: FileScanner._on_list,
    ast.Tuple: FileScanner._on_list,
    ast.FunctionDef: FileScanner._visit_definition,
    ast.AsyncFunctionDef: FileScanner._visit_definition,
    ast.ClassDef: FileScanner._visit_definition,
}
