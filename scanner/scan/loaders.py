"""Calls that load a model from the Hub, and where in each call the model is.

A pure reading of one `ast.Call`: which framework reads the files (the `loader`), the call as
written, the node of the repo, of the file when the call names one, and the keywords that
decide which files it reads. It knows nothing of values; the visitor reads them.
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from ..models import Loader

#: the suites' own server launchers that take the model first (`RemoteOpenAIServer(MODEL, args)`
#: in vLLM, `popen_launch_server(model, ...)` in sglang, TGI's `launcher(model_id)`); more in
#: the `launchers` configuration key
DEFAULT_LAUNCHERS = ("RemoteOpenAIServer", "popen_launch_server", "launcher", "vllm_runner",
                     "hf_runner", "VllmRunner", "HfRunner", "LLM", "AsyncLLM", "EngineArgs",
                     "AsyncEngineArgs", "Engine")
#: keywords that change which files a call reads: kept with the reference, as written
OPTION_KEYWORDS = frozenset({
    "subfolder", "revision", "variant", "trust_remote_code", "use_safetensors", "gguf_file",
    "weight_name", "filename", "allow_patterns", "ignore_patterns", "repo_type", "task",
    "from_tf", "from_flax", "adapter_name", "tokenizer", "local_files_only", "torch_dtype",
    "dtype", "quantization", "load_format",
})
#: class names `from_pretrained` is called on that are diffusers': its pipelines and models
_DIFFUSERS_MARKS = ("Pipeline", "UNet", "Autoencoder", "ControlNet", "Scheduler", "VQModel",
                    "Transformer2DModel", "Transformer3DModel", "PriorTransformer", "Adapter")
#: words that make a line worth walking for these calls (see `candidates.py`): parts their
#: names share, so that few searches of the source find them all (`from_` finds
#: `from_pretrained`, `from_single_file`, `from_model2vec`, `get_model_from_task`; `load_` the
#: adapter loads and `load_dataset`; `Transformer` and `Encoder` sentence-transformers' models)
WORDS = ("from_", "_download", "pipeline(", "Transformer", "Encoder", "load_", "pretrained",
         "repo_type", "fixture(", "Trainer(")
_REPO_KEYWORDS = ("pretrained_model_name_or_path", "model_name_or_path", "model", "model_id",
                  "model_name", "model_path", "repo_id")
#: sentence-transformers' models and their modules (`models.Transformer(name)`,
#: `MLMTransformer`, `StaticEmbedding.from_model2vec(name)`)
#: trl trainers' keywords that name further models
_TRAINER_MODELS = ("ref_model", "teacher_model", "reward_model")
_SENTENCE_TRANSFORMERS = frozenset({"SentenceTransformer", "CrossEncoder", "SparseEncoder",
                                    "Transformer", "MLMTransformer", "from_model2vec",
                                    "from_distillation"})
_ADAPTER_LOADS = frozenset({"load_lora_weights", "load_ip_adapter", "load_textual_inversion"})
#: transformers' PEFT integration: `model.load_adapter("org/adapter")`
_MODEL_ADAPTER_LOADS = frozenset({"load_adapter"})


class LoaderCall(NamedTuple):
    loader: Loader
    call: str  # as written: `AutoTokenizer.from_pretrained`, `hf_hub_download`
    repo: ast.expr
    file: ast.expr | None
    options: dict[str, ast.expr]
    bare: bool  # a legacy id without organisation is a repo here (`gpt2`)
    #: other models the same call loads: a server's LoRA adapters, a trainer's reference or
    #: teacher model, the polarity model of `AbsaModel.from_pretrained(aspect, polarity)`
    more: tuple[ast.expr, ...] = ()


class DatasetCall(NamedTuple):
    """`load_dataset("org/name")`, `hf_hub_download(..., repo_type="dataset")`: the repo is
    a dataset's (or a space's), never a model to fetch."""

    repo: ast.expr


def call_name(func: ast.expr) -> tuple[str, str]:
    """(the name called, the call as written up to it): `from_pretrained`,
    `AutoTokenizer.from_pretrained`; ("", "") for anything but names and attributes."""
    if isinstance(func, ast.Name):
        return func.id, func.id
    if isinstance(func, ast.Attribute):
        owner = func.value
        if isinstance(owner, ast.Name):
            return func.attr, f"{owner.id}.{func.attr}"
        if isinstance(owner, ast.Attribute):
            return func.attr, f"{owner.attr}.{func.attr}"
        return func.attr, func.attr
    return "", ""


def read_call(call: ast.Call, launchers: frozenset[str]) -> LoaderCall | DatasetCall | None:
    """What `call` loads, or None when it loads no model we know of."""
    name, written = call_name(call.func)
    if not name:
        return None
    given = {kw.arg: kw.value for kw in call.keywords if kw.arg}
    options = {k: v for k, v in given.items() if k in OPTION_KEYWORDS}
    if name == "load_dataset" or _is_dataset(given.get("repo_type")):
        repo = _arg(call, 0, given, ("path", "repo_id"))
        return DatasetCall(repo) if repo is not None else None
    if name == "from_pretrained" or (name == "download" and "Pipeline" in written):
        return _from_pretrained(call, written, given, options)
    if name in ("hf_hub_download", "snapshot_download"):
        repo = _arg(call, 0, given, ("repo_id",))
        file = _arg(call, 1, given, ("filename",)) if name == "hf_hub_download" else None
        loader: Loader = "hub_file" if name == "hf_hub_download" else "hub_snapshot"
        return _made(loader, written, repo, file, options, bare=True)
    if name == "pipeline":
        return _made("transformers", written, _arg(call, 1, given, ("model",)), None, options,
                     bare=True)
    if name in _SENTENCE_TRANSFORMERS:
        repo = _arg(call, 0, given, ("model_name_or_path", "model_name"))
        return _made("sentence_transformers", written, repo, None, options, bare=True)
    if name in _MODEL_ADAPTER_LOADS:
        return _made("transformers", written, _arg(call, 0, given, ("peft_model_id",)), None,
                     options, bare=False)
    if name == "from_single_file" or name in _ADAPTER_LOADS:
        repo = _arg(call, 0, given, ("pretrained_model_link_or_path",
                                     "pretrained_model_name_or_path_or_dict",
                                     "pretrained_model_name_or_path"))
        return _made("diffusers", written, repo, given.get("weight_name"), options, bare=False)
    if name in launchers:
        found = _made("server", written, _arg(call, 0, given, _REPO_KEYWORDS), None, options,
                      bare=False)
        return found and found._replace(more=_elements(given.get("lora_adapters")))
    if name.endswith("Trainer") or name == "get_model_from_task":
        # trl's trainers load `model="org/name"` themselves; optimum's
        # `TasksManager.get_model_from_task(task, model)`
        position = 1 if name == "get_model_from_task" else 0
        found = _made("transformers", written, _arg(call, position, given, ("model",)), None,
                      options, bare=True)
        extra = tuple(given[k] for k in _TRAINER_MODELS if k in given)
        return found and found._replace(more=extra)
    if "pretrained_model_name_or_path" in given:
        return _made("transformers", written, given["pretrained_model_name_or_path"], None,
                     options, bare=True)
    return None


def _from_pretrained(call: ast.Call, written: str, given: dict[str, ast.expr],
                     options: dict[str, ast.expr]) -> LoaderCall | None:
    """`X.from_pretrained(repo)` on any class; PEFT's `PeftModel.from_pretrained(base, adapter)`
    takes the adapter second."""
    owner = written.rpartition(".")[0]
    if owner.startswith("Peft") or (owner.endswith("PeftModel")
                                    and not owner.startswith("Auto")):
        repo = _arg(call, 1, given, ("model_id",))
    else:
        repo = _arg(call, 0, given, ("pretrained_model_name_or_path", "model_name_or_path",
                                     "model_id"))
    diffusers = any(mark in owner for mark in _DIFFUSERS_MARKS) and "Peft" not in owner
    loader: Loader = "diffusers" if diffusers else "transformers"
    found = _made(loader, written, repo, given.get("gguf_file"), options, bare=True)
    if found and owner.startswith("Absa") and len(call.args) > 1:  # setfit's two models
        return found._replace(more=(call.args[1],))
    return found


def _elements(node: ast.expr | None) -> tuple[ast.expr, ...]:
    """The elements of a literal list or tuple, else the node itself (or nothing)."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return tuple(node.elts)
    return () if node is None else (node,)


def _made(loader: Loader, written: str, repo: ast.expr | None, file: ast.expr | None,
          options: dict[str, ast.expr], *, bare: bool) -> LoaderCall | None:
    return None if repo is None else LoaderCall(loader, written, repo, file, options, bare)


def _arg(call: ast.Call, position: int, given: dict[str, ast.expr],
         keywords: tuple[str, ...]) -> ast.expr | None:
    """The argument at `position`, else the first of `keywords` given."""
    args = call.args
    if len(args) > position and not any(isinstance(a, ast.Starred) for a in args[:position + 1]):
        return args[position]
    return next((given[k] for k in keywords if k in given), None)


def _is_dataset(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value in ("dataset", "space")
