"""Tiny Hugging Face repos for the fake Hub, laid out as real ones are: a tokenizer made with
`tokenizers`, a config, small safetensors written with `safetensors.numpy`, and the decoy copies
a real repo carries beside them (pickles, ONNX, GGUF, `original/`, training files)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from safetensors.numpy import save
from tokenizers import Tokenizer, models, pre_tokenizers

from scanner.models import RepoFile, RepoListing
from tests.fakehub import FakeHub

Files = dict[str, bytes]
WORDS = ["<unk>", "<s>", "</s>", "hello", "world", "tiny", "model"]

#: What a real transformers repo carries that no `from_pretrained` of a safetensors model reads.
DECOYS: Files = {
    "pytorch_model.bin": b"pickle" * 50,
    "tf_model.h5": b"h5" * 50,
    "flax_model.msgpack": b"msgpack" * 50,
    "onnx/model.onnx": b"onnx" * 50,
    "original/consolidated.00.pth": b"pth" * 50,
    "original/params.json": b"{}",
    "model-Q4_K_M.gguf": b"GGUF" * 50,
    "training_args.bin": b"args" * 10,
    "README.md": b"# tiny\n",
    ".gitattributes": b"*.safetensors filter=lfs\n",
}


def as_json(data: Any) -> bytes:
    return json.dumps(data, indent=1).encode()


def tokenizer_files(folder: str = "") -> Files:
    """A word-level tokenizer (`tokenizer.json`) and the configs transformers reads beside it."""
    vocab = {w: i for i, w in enumerate(WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>",
              "eos_token": "</s>", "unk_token": "<unk>", "model_max_length": 64}
    files = {
        "tokenizer.json": tok.to_str().encode(),
        "tokenizer_config.json": as_json(config),
        "special_tokens_map.json": as_json({"bos_token": "<s>", "eos_token": "</s>"}),
        "chat_template.jinja": b"{% for m in messages %}{{ m['content'] }}{% endfor %}",
        "additional_chat_templates/tool_use.jinja": b"{{ messages[0]['content'] }} TOOL",
    }
    return {f"{folder}{path}": content for path, content in files.items()}


def config_files(folder: str = "") -> Files:
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 8,
              "n_layer": 2, "n_head": 2, "vocab_size": len(WORDS), "n_positions": 64}
    return {f"{folder}config.json": as_json(config),
            f"{folder}generation_config.json": as_json({"max_new_tokens": 4})}


def tensors(seed: int, names: list[str]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal((4, 8)).astype(np.float32) for name in names}


def safetensors_file(seed: int, names: list[str]) -> bytes:
    return save(tensors(seed, names))


def sharded(prefix: str, parts: dict[str, list[str]], name: str = "model.safetensors") -> Files:
    """Shards (file name → tensor names) and the index `weight_map` naming them."""
    files: Files = {}
    weight_map = {}
    for i, (shard, names) in enumerate(parts.items()):
        files[prefix + shard] = safetensors_file(i, names)
        weight_map.update({n: shard for n in names})
    files[f"{prefix}{name}.index.json"] = as_json({"metadata": {}, "weight_map": weight_map})
    return files


def transformers_repo(*, shards: bool = False) -> Files:
    """A causal LM repo: config, generation config, tokenizer, safetensors weights (one file or
    two shards by their index, plus a shard no index names), and the usual decoys."""
    weights = (
        sharded("", {"model-00001-of-00002.safetensors": ["a", "b"],
                     "model-00002-of-00002.safetensors": ["c"]})
        | {"model-00001-of-00003.safetensors": safetensors_file(9, ["old"])}
        if shards else {"model.safetensors": safetensors_file(0, ["a", "b"])}
    )  # fmt: skip
    return config_files() | tokenizer_files() | weights | DECOYS


def add(hub: FakeHub, repo: str, files: Files) -> None:
    hub.add_repo(repo, dict(files))


def listing(repo: str, files: Files, commit: str = "c" * 40) -> RepoListing:
    """The listing the Hub would give for `files` (sizes only matter to the rules' callers)."""
    return RepoListing(repo=repo, commit=commit, files=tuple(
        RepoFile(path=path, size=len(content), oid=f"{i:040x}") for i, (path, content)
        in enumerate(sorted(files.items()))))  # fmt: skip


def reader(files: Files) -> Any:
    """A `read` callback serving `files`' content, which records the paths it was asked."""
    asked: list[str] = []

    def read(file: RepoFile) -> bytes:
        asked.append(file.path)
        return files[file.path]

    read.asked = asked  # type: ignore[attr-defined]
    return read
