"""What `bench/frameworks.py` serves and runs: a repo as a transformers causal LM is published
(four 200 MB safetensors shards, their index, a tokenizer made with `tokenizers`, configs, the
decoys of a real repo), a suite that loads it as transformers does (no torch), and the count
of the files and bytes the fake Hub served."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from peers import MB, REPO_ROOT
from safetensors.numpy import save_file

from tests import hf_repos
from tests.fakehub import FakeHub, GeneratedFile, Request

REPO = "bench-org/big-causal"
SHARDS = 4
SHARD_BYTES = 200 * MB
#: the example suite of the bytes table beside the bench's own
OFFLINE_SUITE = REPO_ROOT / "examples" / "offline-suite"

SUITE = '''"""Loads {repo} as transformers does, without torch: the tokenizer and the configs
through transformers, the weights through transformers' own hub functions, read with
safetensors.numpy."""

from safetensors.numpy import load_file
from transformers import AutoConfig, AutoTokenizer, GenerationConfig
from transformers.utils.hub import cached_file, get_checkpoint_shard_files

REPO = "{repo}"


class NumpyForCausalLM:
    """`PreTrainedModel.from_pretrained`'s files: the config, the generation config, then the
    weights `_get_resolved_checkpoint_files` picks: model.safetensors, else the index and the
    shards it names (`get_checkpoint_shard_files`)."""

    @classmethod
    def from_pretrained(cls, repo):
        config = AutoConfig.from_pretrained(repo)
        GenerationConfig.from_pretrained(repo)
        single = cached_file(repo, "model.safetensors",
                             _raise_exceptions_for_missing_entries=False)
        if single is not None:
            shards = [single]
        else:
            index = cached_file(repo, "model.safetensors.index.json")
            shards, _ = get_checkpoint_shard_files(repo, index)
        sizes = {{}}
        for shard in shards:
            sizes.update({{name: t.nbytes for name, t in load_file(shard).items()}})
        return config, sizes


def test_tokenizer():
    tokenizer = AutoTokenizer.from_pretrained(REPO)
    assert tokenizer("hello world tiny")["input_ids"] == [3, 4, 5]


def test_model():
    config, sizes = NumpyForCausalLM.from_pretrained(REPO)
    assert config.model_type == "gpt2"
    assert len(sizes) == {shards} and sum(sizes.values()) > {shards} * {shard_mb} * 990_000
'''


def shard_name(i: int) -> str:
    return f"model-{i:05d}-of-{SHARDS:05d}.safetensors"


def write_shards(folder: Path) -> None:
    """Four safetensors files of one random uint8 tensor each, and their index; once."""
    if (folder / "model.safetensors.index.json").is_file():
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    weight_map = {}
    for i in range(1, SHARDS + 1):
        name = f"layers.{i}.weight"
        data = np.frombuffer(rng.bytes(SHARD_BYTES - 128), dtype=np.uint8)
        save_file({name: data}, str(folder / f"{shard_name(i)}.partial"))
        (folder / f"{shard_name(i)}.partial").rename(folder / shard_name(i))
        weight_map[name] = shard_name(i)
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": SHARDS * SHARD_BYTES}, "weight_map": weight_map}))


def bench_repo(shards: Path) -> dict[str, bytes | GeneratedFile]:
    """The repo: configs, tokenizer, the shards and index, a real repo's decoys (a 400 MB
    `pytorch_model.bin` and `original/` copy no safetensors load reads)."""
    files: dict[str, bytes | GeneratedFile] = dict(
        hf_repos.config_files() | hf_repos.tokenizer_files() | hf_repos.DECOYS)
    files["pytorch_model.bin"] = GeneratedFile(400 * MB, 7)
    files["original/consolidated.00.pth"] = GeneratedFile(400 * MB, 8)
    for path in sorted(shards.iterdir()):
        files[path.name] = path.read_bytes()
    return files


def write_suite(root: Path) -> Path:
    """The bench suite under `root` (a pyproject.toml with its testpaths, one test module)."""
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench-suite"\nversion = "0.1"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    (root / "tests" / "test_model.py").write_text(SUITE.format(
        repo=REPO, shards=SHARDS, shard_mb=SHARD_BYTES // MB))
    return root


def serve(hub: FakeHub, repo: str, files: dict[str, bytes | GeneratedFile]) -> None:
    hub.add_repo(repo, files)
    for path in files:
        hub.sha256(repo, path)  # computed now, not while a request is timed


def pytest_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            *extra]


def served(hub: FakeHub, requests: Iterable[Request]) -> tuple[set[tuple[str, str]], int]:
    """(the files as (repo, path), bytes) the Hub's file answers carried: each GET of a file,
    its whole size or the byte range it asked for; a file it does not have (404) counts
    nothing."""
    sizes = {}
    paths: set[tuple[str, str]] = set()
    total = 0
    for request in requests:
        if request.method != "GET" or request.kind != "resolve":
            continue
        repo, _, rest = request.path.lstrip("/").partition("/resolve/")
        path = rest.partition("/")[2]
        if repo not in sizes:
            sizes[repo] = {e["path"]: e["size"] for e in hub.file_entries(repo)}
        size = sizes[repo].get(path)
        if size is None:
            continue
        first, _, last = request.headers.get("range", "bytes=0-").removeprefix(
            "bytes=").partition("-")
        total += (int(last) if last else size - 1) - int(first) + 1
        paths.add((repo, path))
    return paths, total
