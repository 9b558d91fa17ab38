"""References that frameworks load: the model argument of a loader or launcher call, a
`["--model", X]` argument list, `@pytest.mark.model(...)`, and repo-shaped values of
module-level containers and of parametrize rows no loader call read.

A mixin of `FileScanner` (visitor.py), which owns the walk, the values and the findings.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from typing import TYPE_CHECKING

from ..llama.repo_id import hf_file_problem
from ..models import Loader, ReferenceKind
from .found import Found
from .loaders import DatasetCall, LoaderCall, call_name
from .scope import ParamRef, Resolved, Scope, Unresolved
from .shapes import is_model_id, loader_repo_id, sentence_transformers_id

if TYPE_CHECKING:
    from .values import ValueReader

#: argument-list flags that a server takes the model after (`["--model", MODEL]`)
MODEL_FLAGS = frozenset({"--model", "--model-path", "--model-id", "--model_name_or_path",
                         "--tokenizer", "--served-model-name-or-path"})
_FLAG_IN_TEXT = re.compile(r"--model(?:-path|-id)?[= ]+([\w.-]+/[\w.-]+)(?![\w./-])")
#: module-level names that say they hold no model
_NOT_MODELS = re.compile(r"DATASET|DATA_|_DATA|SPACE|IMAGE|DOCKER|URL|PATH|DIR|FILE|TEMPLATE",
                         re.IGNORECASE)
#: registry keywords that say the model is not downloaded (`is_available_online=False`)
_OFFLINE_FLAGS = frozenset({"is_available_online", "download", "available_online", "enabled"})
MAX_CONTAINER_DEPTH = 5


class FrameworkReferences:
    """What `FileScanner` provides: its findings, values and how it records a diagnostic."""

    rel: str
    values: ValueReader
    url_regex: re.Pattern[str]
    found: dict[Found, None]
    datasets: set[str]
    run_time: dict[tuple[str, int, str], None]
    consumed: set[int]  # ids of string nodes a loader call read (no second, plain reference)

    def _diagnose(self, line: int, message: str, scope: Scope,
                  kind: ReferenceKind | None = None) -> None:
        raise NotImplementedError

    # -- calls -------------------------------------------------------------------------------

    def on_loader(self, found: LoaderCall | DatasetCall, call: ast.Call, scope: Scope) -> None:
        if isinstance(found, DatasetCall):
            self._dataset(found, call, scope)
            return
        options = _options(found.options)
        file = self.values.read(found.file, scope) if found.file is not None else None
        values: list[Resolved] = []
        for node in (found.repo, *found.more):
            # `load_ip_adapter(["org/a", "org/b"], ...)`: one call, several models
            for one in node.elts if isinstance(node, (ast.List, ast.Tuple)) else (node,):
                self.consumed.add(id(one))
                values.extend(self.values.read_all(one, scope))
        for value in values:
            if isinstance(value, ParamRef):
                self._loaded_rows(value.name, found, file, options, call.lineno, scope)
            elif isinstance(value, Unresolved):
                if not _is_path(found.repo):  # a folder the test made is no Hub model
                    self._diagnose(call.lineno, f"{found.call}: {value.reason}", scope, "call")
            elif value is not None:
                self._loaded(value, found, file, options, call.lineno, scope)

    def _dataset(self, found: DatasetCall, call: ast.Call, scope: Scope) -> None:
        """A dataset (a parametrized argument: each row's): no model anywhere in the suite,
        and the test fetches it when it runs."""
        for value in self.values.read_all(found.repo, scope):
            rows: list[tuple[str, int]] = []
            if isinstance(value, str):
                rows.append((value, call.lineno))
            elif isinstance(value, ParamRef):  # its rows are datasets, not models
                self._mark_loaded(value.name, scope)
                rows.extend((v, row[value.name].lineno) for row in scope.param_rows()
                            if isinstance(v := self.values.read(row[value.name], scope), str))
            for name, line in rows:
                self.datasets.add(name)
                self.run_time[(f"dataset {name}", line, scope.qualname)] = None

    def _loaded_rows(self, name: str, found: LoaderCall, file: Resolved,
                     options: tuple[tuple[str, str], ...], line: int, scope: Scope) -> None:
        """A parametrized argument at the loader's position: each row's value, with this
        loader; the rows need no reference of their own then."""
        self._mark_loaded(name, scope)
        for row in scope.param_rows():
            value = self.values.read(row[name], scope)
            if isinstance(value, str):
                self._loaded(value, found, file, options, row[name].lineno, scope)

    @staticmethod
    def _mark_loaded(name: str, scope: Scope) -> None:
        level: Scope | None = scope
        while level is not None:
            level.loaded.add(name)
            level = level.parent

    def _loaded(self, value: str, found: LoaderCall, file: Resolved,
                options: tuple[tuple[str, str], ...], line: int, scope: Scope) -> None:
        url = self.url_regex.fullmatch(value)
        if url:
            self._record(url["repo"], url["path"], url["rev"], line, "url", scope, found.loader,
                         found.call, options)
            return
        repo = sentence_transformers_id(value) if found.loader == "sentence_transformers" \
            else loader_repo_id(value, bare=found.bare)
        if repo is None:
            return  # a local folder, a path, a placeholder: nothing to fetch
        given = dict(options)
        hf_file = file if isinstance(file, str) else None
        if hf_file and "subfolder" in given and found.loader == "hub_file":
            hf_file = f"{json.loads(given['subfolder'])}/{hf_file}"  # as hf_hub_download joins
        if hf_file is not None and hf_file_problem(hf_file):
            hf_file = None
        revision = json.loads(given["revision"]) if "revision" in given else None
        self._record(repo, hf_file, revision if isinstance(revision, str) else None, line,
                     "call", scope, found.loader, found.call, options)

    def on_mark(self, call: ast.Call, scope: Scope) -> None:
        """`@pytest.mark.model("org/name")`: the marked test needs the model; so do the tests
        of a fixture with repo-shaped `params` (`@pytest.fixture(params=["org/name"])`)."""
        name, written = call_name(call.func)
        if name == "fixture":
            params = next((kw.value for kw in call.keywords if kw.arg == "params"), None)
            for text, line, _ in _strings(params, 0) if params is not None else ():
                if is_model_id(text):
                    self._record(text, None, None, line, "parametrize", scope, "unknown")
            return
        if written not in ("mark.model", "pytest.mark.model"):
            return
        for arg in call.args:
            for value in self.values.read_all(arg, scope):
                if isinstance(value, str) and is_model_id(value):
                    self._record(value, None, None, call.lineno, "mark", scope, "unknown")

    def on_arguments(self, node: ast.List | ast.Tuple, scope: Scope) -> None:
        """`["--model", MODEL, ...]`: the value after a model flag, when it can be read."""
        elts = node.elts
        for flag, value_node in itertools.pairwise(elts):
            if isinstance(flag, ast.Constant) and flag.value in MODEL_FLAGS:
                for value in self.values.read_all(value_node, scope):
                    if isinstance(value, str) and is_model_id(value):
                        self._record(value, None, None, value_node.lineno, "call", scope,
                                     "server", str(flag.value))

    def flags_in_text(self, text: str, line: int, scope: Scope) -> None:
        """`"serve --model org/name"` in a command string."""
        for match in _FLAG_IN_TEXT.finditer(text):
            if is_model_id(match[1]):
                self._record(match[1], None, None, line, "call", scope, "server", "--model")

    # -- values no call was seen to load --------------------------------------------------------

    def shaped_rows(self, scope: Scope, model_names: frozenset[str]) -> None:
        """Parametrize values shaped like a repo, under any argname no loader read, in a mark
        that names no configured argname (such a mark says where its model is: llama.cpp's
        `hf_repo, template_override` rows hold template names beside it)."""
        nodes: dict[int, ast.expr] = {}  # stacked marks pair rows: each value once
        for row in scope.rows:
            if not model_names.isdisjoint(row):
                continue
            for name, node in row.items():
                if name in scope.loaded or name in model_names or _NOT_MODELS.search(name):
                    continue
                nodes[id(node)] = node
        for node in nodes.values():
            for text, line, _ in _strings(node, 0):
                if is_model_id(text):
                    self._record(text, None, None, line, "parametrize", scope, "unknown")

    def module_containers(self, tree: ast.Module, scope: Scope) -> None:
        """Module-level constants: containers (lists, tuples, sets, dicts: keys and values,
        registries `Info("org/name", ...)`) and comma-joined strings, whose elements are
        repo-shaped, unless the name says they are no models (`DATASETS`)."""
        for stmt in tree.body:
            value: ast.expr | None
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target, value = stmt.targets[0], stmt.value
            elif isinstance(stmt, ast.AnnAssign):
                target, value = stmt.target, stmt.value
            else:
                continue
            if not isinstance(target, ast.Name) or _NOT_MODELS.search(target.id):
                continue
            single = isinstance(value, ast.Constant) and "MODEL" not in target.id.upper()
            if value is None or single:
                continue  # a single string is a model where a call or a mark uses it
            for text, line, node_id in _strings(_without_dispatch_keys(value, tree), 0):
                if node_id in self.consumed:
                    continue
                for part in text.split(","):
                    if is_model_id(part.strip()):
                        self._record(part.strip(), None, None, line, "constant", scope,
                                     "unknown")

    def _record(self, repo: str, hf_file: str | None, revision: str | None, line: int,
                kind: ReferenceKind, scope: Scope, loader: Loader | None,
                call: str | None = None, options: tuple[tuple[str, str], ...] = ()) -> None:
        self.found[(repo, hf_file, revision, line, scope.qualname, kind, loader, call,
                    options)] = None


def _is_path(node: ast.expr) -> bool:
    """`tmp_path / "saved"`, `os.path.join(...)`, `str(path)`: a folder the test made."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return True
    return isinstance(node, ast.Call) and call_name(node.func)[1] in (
        "path.join", "os.path.join", "str", "Path", "mkdtemp", "tempfile.mkdtemp")


def _options(nodes: dict[str, ast.expr]) -> tuple[tuple[str, str], ...]:
    """The keywords read statically, as JSON text; the others are left out."""
    kept = []
    for name, node in sorted(nodes.items()):
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, (str, bool, int, float, list, tuple)) or value is None:
            kept.append((name, json.dumps(list(value) if isinstance(value, tuple) else value)))
    return tuple(kept)


def _strings(node: ast.expr, depth: int) -> list[tuple[str, int, int]]:
    """String constants (text, line, node id) in a container, the first argument of calls in
    it (registries), not those of a call flagged as not downloaded."""
    if isinstance(node, ast.Constant):
        return [(node.value, node.lineno, id(node))] if isinstance(node.value, str) else []
    if depth > MAX_CONTAINER_DEPTH:
        return []
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items: list[ast.expr | None] = list(node.elts)
    elif isinstance(node, ast.Dict):
        items = [*node.keys, *node.values]
    elif isinstance(node, ast.Call) and _has_first_argument(node):
        items = list(node.args[:1]) if not _not_downloaded(node) else []
        if call_name(node.func)[0] == "param":
            items = list(node.args)
    else:
        return []
    found: list[tuple[str, int, int]] = []
    for item in items:
        if item is not None:
            found.extend(_strings(item, depth + 1))
    return found


def _without_dispatch_keys(node: ast.expr, tree: ast.Module) -> ast.expr:
    """A dict that maps names to the module's functions is a dispatch table: its keys are what
    the code is asked for (JSON-RPC's `"tools/list": handle_tools_list`), no models."""
    if not isinstance(node, ast.Dict):
        return node
    functions = {stmt.name for stmt in tree.body
                 if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))}
    pairs = [(key, value) for key, value in zip(node.keys, node.values, strict=True)
             if not (isinstance(value, ast.Name) and value.id in functions)]
    return ast.Dict(keys=[key for key, _ in pairs], values=[value for _, value in pairs])


def _has_first_argument(node: ast.Call) -> bool:
    return bool(node.args) and bool(call_name(node.func)[0])


def _not_downloaded(node: ast.Call) -> bool:
    return any(kw.arg in _OFFLINE_FLAGS and isinstance(kw.value, ast.Constant)
               and kw.value.value is False for kw in node.keywords)
