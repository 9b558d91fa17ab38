"""Which strings are model repo ids, for the references no configured name marks: a loader's
argument, a container's element, a parametrize value.

A loader position takes what the Hub takes (`huggingface_hub.utils.validate_repo_id`: an
optional `org/`, then `[\\w.-]` names without `--` or `..`), including the bare legacy ids
(`gpt2`, `bert-base-uncased`) the Hub still serves. Elsewhere (containers, rows) only an
`org/name` counts, and never one of the shapes that merely look like it: MIME types, file
paths, placeholders, datasets (the caller's list), names made up to fail.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..llama.repo_id import repo_id_problem

#: `huggingface_hub.utils._validators.REPO_ID_REGEX`, less the 96-character cap on the name
_HUB_ID = re.compile(r"(?:[\w.-]+/)?[\w.-]+", re.ASCII)
_MIME_TYPES = frozenset({"application", "audio", "font", "image", "message", "multipart",
                         "text", "video", "chemical"})
#: organisations of examples and made-up ids (`org/model`, `fake-org/x`, `test_user/...`)
_PLACEHOLDER_ORGS = frozenset({
    "org", "my-org", "my_org", "myorg", "your-org", "your_org", "yourorg", "some-org", "fake-org",
    "fake_org", "fake", "user", "username", "my-user", "your-username", "your_username",
    "test_user", "test-user", "testuser", "test-org", "test_org", "foo", "bar", "baz", "owner",
    "namespace", "organization", "repo_owner", "author", "someone", "dummy", "example",
    "valid_org", "invalid", "nonexistent", "non-existent", "does-not-exist", "none",
})
#: names a test makes up to see a download fail, or to stand for any model
_MADE_UP = re.compile(r"non-?existent|does-?not-?exist|not-?a-?real|invalid|fake|"
                      r"^(model|repo|name|model[-_]name|model[-_]id|repo[-_]id|test[-_]model)$",
                      re.IGNORECASE)
#: the folder names of paths (`models/x`, `tmp/out`): no Hub organisation is called so
_PATH_ORGS = frozenset({"tmp", "temp", "var", "home", "usr", "data", "models", "model", "tests",
                        "test", "src", "path", "dir", "output", "outputs", "cache", "checkpoints",
                        "local", "configs", "assets", "fixtures", "resources", "docs", "build",
                        "http:", "https:", "s3:", "gs:", "file:", "~"})
_FILE_SUFFIXES = frozenset({
    "py", "json", "jsonl", "txt", "md", "yaml", "yml", "toml", "ini", "cfg", "csv", "tsv",
    "parquet", "arrow", "png", "jpg", "jpeg", "gif", "webp", "wav", "mp3", "mp4", "flac", "bin",
    "safetensors", "gguf", "pt", "pth", "ckpt", "onnx", "h5", "msgpack", "model", "zip", "tar",
    "gz", "npy", "npz", "pkl", "html", "log", "sh", "so", "jinja", "tflite", "engine",
})
_LEGACY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*", re.ASCII)


@lru_cache(maxsize=8192)
def is_model_id(text: str) -> bool:
    """`org/name` and nothing that only looks like one."""
    if text.count("/") != 1 or repo_id_problem(text) is not None:
        return False
    org, name = text.split("/")
    if org.isdigit() or name.isdigit():  # a fraction or a port (`10/9`, `80/tcp`)
        return False
    if org.lower() in _MIME_TYPES or org.lower() in _PLACEHOLDER_ORGS or org in _PATH_ORGS:
        return False
    if text.lower() in ("hf/model", "user/model", "model/name", "repo/name"):
        return False
    return not (_MADE_UP.search(name) or _is_file_name(name))


@lru_cache(maxsize=8192)
def loader_repo_id(text: str, *, bare: bool) -> str | None:
    """The repo id a loader position holds, or None: an `org/name` as `is_model_id`, or with
    `bare` one of the legacy ids without organisation that the Hub still serves (`gpt2`,
    `t5-small`, `bert-base-uncased`: transformers' original checkpoints), never a folder or
    a name a test gave its own model (`model`, `Conv1d`)."""
    if "/" in text:
        return text if is_model_id(text) else None
    if not bare or not _LEGACY.fullmatch(text) or _is_file_name(text) or ".." in text:
        return None
    return text if text.lower().startswith(LEGACY_PREFIXES) and _HUB_ID.fullmatch(text) \
        else None


def _is_file_name(name: str) -> bool:
    _, dot, suffix = name.rpartition(".")
    return bool(dot) and suffix.lower() in _FILE_SUFFIXES


#: transformers' original checkpoints, which kept their ids without organisation on the Hub;
#: sentence-transformers lists the same (`basic_transformer_models` in
#: `SentenceTransformer.__init__`). They all begin so:
LEGACY_PREFIXES = ("albert-", "bert-", "camembert-", "ctrl", "distilbert-", "distilgpt2",
                   "distilroberta-", "gpt2", "openai-gpt", "roberta-", "t5-", "xlm-", "xlnet-",
                   "transfo-xl-", "flaubert")


def sentence_transformers_id(repo: str) -> str | None:
    """The repo sentence-transformers downloads for `repo`: `SentenceTransformer.__init__`
    (sentence-transformers 2.2 to 5.x, `sentence_transformers/SentenceTransformer.py`) takes a
    name without `/` that is not one of transformers' checkpoints from the library's
    organisation, `sentence-transformers/NAME`."""
    if "/" in repo or repo.lower().startswith(LEGACY_PREFIXES):
        return loader_repo_id(repo, bare=True)
    if not _LEGACY.fullmatch(repo) or _is_file_name(repo) or _MADE_UP.search(repo):
        return None
    return f"sentence-transformers/{repo}"
