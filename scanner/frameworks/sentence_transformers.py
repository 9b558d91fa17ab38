"""The files sentence-transformers (6.x) reads for `SentenceTransformer(repo)` and its
siblings (`CrossEncoder`, `SparseEncoder`), from `sentence_transformers/base/model.py`."""

from __future__ import annotations

from typing import Any

from .common import FrameworkError, RepoFiles, join
from .transformers import add_config, add_processor, add_tokenizer, add_weights

MODULES = "modules.json"
#: `Transformer.load_config`'s legacy config names, tried in this order.
TRANSFORMER_CONFIGS = (
    "sentence_bert_config.json", "sentence_roberta_config.json",
    "sentence_distilbert_config.json", "sentence_camembert_config.json",
    "sentence_albert_config.json", "sentence_xlm-roberta_config.json",
    "sentence_xlnet_config.json",
)  # fmt: skip


def plan_sentence_transformers(repo: RepoFiles) -> None:
    """`BaseModel._load_modules`: `modules.json`, and without it `_load_default_modules` (a
    transformers model at the root); with it `_load_config_modules`:
    `config_sentence_transformers.json`, `README.md` (the model card), then each module."""
    if not repo.has(MODULES):
        add_transformer_module(repo, None)
        return
    modules = repo.read_json(MODULES, "BaseModel._load_modules")
    repo.add_if_present("config_sentence_transformers.json", "_load_config_modules")
    repo.add_if_present("README.md", "_load_config_modules: the model card")
    for module in _module_entries(repo, modules):
        path, kind = str(module.get("path") or ""), str(module.get("type") or "")
        if kind.rsplit(".", 1)[-1] == "Transformer" or not path:
            add_transformer_module(repo, path or None)
        else:
            add_module_folder(repo, path)


def _module_entries(repo: RepoFiles, modules: Any) -> list[dict[str, Any]]:
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise FrameworkError(repo.call, f"{MODULES} is not a list of modules")
    for m in modules:
        path = str(m.get("path") or "")
        if path.startswith("/") or ".." in path.split("/"):  # `_validate_relative_path`
            raise FrameworkError(repo.call, f"{MODULES} names a module outside the repo: {path!r}")
    return list(modules)


def add_transformer_module(repo: RepoFiles, folder: str | None) -> None:
    """`Transformer.load`: its `sentence_bert_config.json` (or a legacy name), then the
    transformers config, tokenizer or processor, and weights of that folder."""
    for name in TRANSFORMER_CONFIGS:
        if repo.add_if_present(join(folder, name), "Transformer.load_config"):
            break
    add_config(repo, folder, required=True)
    add_tokenizer(repo, folder)
    add_processor(repo, folder)
    add_weights(repo, folder, repo.call.variant, repo.call.use_safetensors)


def add_module_folder(repo: RepoFiles, folder: str) -> None:
    """Any other module (Pooling, Dense, Normalize, a custom one): its folder, as
    `load_dir_path` fetches it (`snapshot_download(allow_patterns=f"{path}/**")`), except a
    `.bin` beside a `.safetensors`, which `Module.load_torch_weights` never reads. A module
    without files (`Normalize` has none) is loaded from its class alone."""
    files = repo.in_folder(folder, recursive=True)
    has_safetensors = any(f.path.endswith(".safetensors") for f in files)
    repo.add_all(
        (f for f in files if not (has_safetensors and f.path.endswith(".bin"))),
        f"module {folder}: load_dir_path",
    )
