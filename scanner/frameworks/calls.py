"""A framework reference as the rules read it: the `LoadCall`(s) its scan record stands for.

The scan keeps each reference's loader, its call as written (`AutoTokenizer.from_pretrained`,
`pipeline`, `hf_hub_download`) and the keywords that decide its files, as JSON text
(`scanner/scan/loaders.py`'s `OPTION_KEYWORDS`). Pure: no file is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..models import HuggingFaceModel, LoadCall, Loader, ModelReference

#: the calls that name the class they are called on: `X.from_pretrained`, `Pipeline.download`
_CLASS_METHODS = ("from_pretrained", "download")


def class_name(call: str | None) -> str | None:
    """The class a `from_pretrained` is called on (`AutoTokenizer`), else the function or
    class called (`pipeline`, `SentenceTransformer`, `RemoteOpenAIServer`)."""
    if not call:
        return None
    owner, _, name = call.rpartition(".")
    if name in _CLASS_METHODS and owner:
        return owner.rpartition(".")[2]
    return name


def _options(ref: ModelReference) -> dict[str, Any]:
    """The call's keywords, parsed (a value that is no JSON is left out)."""
    parsed = {}
    for key, text in ref.options:
        try:
            parsed[key] = json.loads(text)
        except ValueError:
            continue
    return parsed


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _patterns(value: Any) -> tuple[str, ...] | None:
    """`allow_patterns` / `ignore_patterns`: one pattern or a list of them, as huggingface_hub
    takes them (`filter_repo_objects`)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _loader(model: HuggingFaceModel, ref: ModelReference, name: str | None) -> Loader:
    """The rule the reference calls for. A diffusers adapter or single-file load that names
    its file reads that file (`hf_hub_download`); without a name (and a PEFT adapter, whose
    repo has no model config), the conservative set of an unknown call."""
    assert model.loader is not None
    if model.loader == "diffusers" and (ref.call or "").rpartition(".")[2] not in _CLASS_METHODS:
        return "hub_file" if model.hf_file else "unknown"
    if model.loader == "transformers" and name and ("Peft" in name or name == "load_adapter"):
        return "unknown"
    return model.loader


def load_call(ref: ModelReference) -> LoadCall | None:
    """The load `ref` stands for; None for a reference no framework loads (llama.cpp's)."""
    model = ref.model
    if model.loader is None:
        return None
    options, name = _options(ref), class_name(ref.call)
    loader = _loader(model, ref, name)
    use_safetensors = options.get("use_safetensors")
    # the scan joined hf_hub_download's `subfolder/filename` into the model's file already
    subfolder = None if loader == "hub_file" else _text(options.get("subfolder"))
    return LoadCall(
        loader=loader, repo=model.repo, class_name=name, revision=model.revision,
        subfolder=subfolder, filename=model.hf_file, variant=_text(options.get("variant")),
        allow_patterns=_patterns(options.get("allow_patterns")),
        ignore_patterns=_patterns(options.get("ignore_patterns")),
        use_safetensors=use_safetensors if isinstance(use_safetensors, bool) else None,
        trust_remote_code=options.get("trust_remote_code") is True,
    )


def load_calls(references: Iterable[ModelReference]) -> list[LoadCall]:
    """The distinct loads of one model's references, in their order (a model loaded by a
    tokenizer and a model class needs both sets of files)."""
    calls = (load_call(ref) for ref in references)
    return list(dict.fromkeys(call for call in calls if call is not None))
