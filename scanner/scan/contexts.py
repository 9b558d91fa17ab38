"""Repo ids that no loader call is seen to take, but whose place says they are models: a name
that says so (`pretrained_model_name_or_path = "org/name"` in a test class, `model_id: str =
"org/name"` as an argument default, `config="org/name"` as a keyword), a value returned by a
function or property (`def repo_id(self): return "org/name"`), a row of
`@parameterized.expand([...])`.

A mixin of `FileScanner` (visitor.py); the lines are walked because they hold a quoted repo id
(`candidates.py`). Each is a reference of loader `unknown`; one a call loads is that call's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from functools import lru_cache

from ..models import Loader, ReferenceKind
from .scope import Scope
from .shapes import is_model_id

#: names that say they hold a model (`pretrained_model_name_or_path`, `model_id`, `repo_id`,
#: `text_encoder_id`, `base_model`, `CHECKPOINT`)
MODEL_NAME = re.compile(r"model|repo|pretrained|checkpoint|ckpt|tokenizer|processor|encoder|"
                        r"adapter|lora|pipe|vae|unet|transformer|^config$|teacher|reward|_id$|"
                        r"^id$|name_or_path", re.IGNORECASE)
#: ... unless they say it is something else: a dataset, or where a test pushes or saves
NOT_A_MODEL_NAME = re.compile(r"dataset|hub_model_id|push|output|save|card|space", re.IGNORECASE)


#: calls whose keywords describe something else: a task and its dataset (lighteval's
#: `LightevalTaskConfig(hf_repo="org/dataset")`), a dataset, a space
NOT_A_MODEL_CALL = re.compile(r"Task|Dataset|Space", re.IGNORECASE)


@lru_cache(maxsize=4096)  # a suite repeats the same few names
def names_a_model(name: str) -> bool:
    return bool(MODEL_NAME.search(name)) and not NOT_A_MODEL_NAME.search(name)


class ModelContexts:
    """What `FileScanner` provides to these handlers."""

    def _record(self, repo: str, hf_file: str | None, revision: str | None, line: int,
                kind: ReferenceKind, scope: Scope, loader: Loader | None,
                call: str | None = None, options: tuple[tuple[str, str], ...] = ()) -> None:
        raise NotImplementedError

    def named_values(self, targets: Iterable[ast.expr], value: ast.expr, scope: Scope) -> None:
        """`NAME = "org/name"`, `self.model_id = ...`, `cls_, text_encoder_id = X, "org/name"`."""
        for target in targets:
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) \
                    and len(target.elts) == len(value.elts):
                for one, its in zip(target.elts, value.elts, strict=True):
                    self._if_named(one, its, scope)
            else:
                self._if_named(target, value, scope)

    def _if_named(self, target: ast.expr, value: ast.expr, scope: Scope) -> None:
        name = target.id if isinstance(target, ast.Name) else \
            target.attr if isinstance(target, ast.Attribute) else ""
        if name and names_a_model(name):
            self._shaped(value, scope)

    def returned(self, node: ast.Return, scope: Scope) -> Iterable[ast.AST]:
        """`return "org/name"` in a function, a property or a fixture."""
        if node.value is not None:
            self._shaped(node.value, scope)
            return (node.value,)
        return ()

    def named_keywords(self, call: ast.Call, scope: Scope) -> None:
        """`f(config="org/name")`, `get_image_encoder(repo_id="org/name")`; not in a call
        that says it is something else (`ModelCardData(model_id=...)`: where a test pushes)."""
        func = call.func
        called = func.attr if isinstance(func, ast.Attribute) else \
            func.id if isinstance(func, ast.Name) else ""
        if NOT_A_MODEL_NAME.search(called) or NOT_A_MODEL_CALL.search(called):
            return
        for keyword in call.keywords:
            if keyword.arg and names_a_model(keyword.arg):
                self._shaped(keyword.value, scope)

    def named_defaults(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope) -> None:
        """`def get_vae(self, model_id="org/name")`: what the test loads unless told."""
        args = node.args
        if not args.defaults and not args.kw_defaults:
            return
        positional = [*args.posonlyargs, *args.args]
        pairs = [*zip(positional[len(positional) - len(args.defaults):], args.defaults,
                      strict=True),
                 *((a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                   if d is not None)]
        for arg, default in pairs:
            if names_a_model(arg.arg):
                self._shaped(default, scope)

    def expanded_rows(self, call: ast.Call, scope: Scope) -> None:
        """`@parameterized.expand(["org/a", "org/b"])`: unittest's parametrize."""
        for arg in call.args:
            for node in ast.walk(arg):
                if isinstance(node, ast.Constant):
                    self._shaped(node, scope, "parametrize")

    def _shaped(self, node: ast.expr, scope: Scope, kind: ReferenceKind = "constant") -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and is_model_id(node.value):
            self._record(node.value, None, None, node.lineno, kind, scope, "unknown")
