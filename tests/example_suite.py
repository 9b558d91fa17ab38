"""The runnable example suite (examples/server-suite) as the tests use it: a copy to run,
and the fake Hub serving every repo it names."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "server-suite"


def serve_example_repos(hub: FakeHub) -> None:
    """Every repo the example names, with small files shaped as llama.cpp expects."""
    split = {f"tinyllamas/split/stories15M-q8_0-0000{i}-of-00003.gguf": GeneratedFile(900 + i)
             for i in (1, 2, 3)}
    hub.add_repo("ggml-org/models", {"tinyllamas/stories260K.gguf": GeneratedFile(1000),
                                     "bert-bge-small/ggml-model-f16.gguf": GeneratedFile(1100),
                                     **split})
    hub.add_repo("ggml-org/tinygemma3-GGUF", {"tinygemma3-Q8_0.gguf": GeneratedFile(1200),
                                              "mmproj-tinygemma3.gguf": GeneratedFile(300)})
    singles = {
        "ggml-org/test-model-stories260K": "stories260K-F32.gguf",
        "ggml-org/test-model-stories260K-infill": "stories260K-infill-F32.gguf",
        "ggml-org/stories15M_MOE": "stories15M_MOE-F16.gguf",
        "ggml-org/embeddinggemma-300M-GGUF": "embeddinggemma-300M-Q8_0.gguf",
        "ggml-org/Qwen2.5-Coder-7B-Q8_0-GGUF": "qwen2.5-coder-7b-q8_0.gguf",
        "bartowski/Qwen_Qwen3-8B-GGUF": "Qwen_Qwen3-8B-Q4_K_M.gguf",
        "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF": "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
        "bartowski/gemma-2-2b-it-GGUF": "gemma-2-2b-it-Q4_K_M.gguf",
        "unsloth/Qwen3-0.6B-GGUF": "Qwen3-0.6B-Q4_K_M.gguf",
        "unsloth/Qwen3-1.7B-GGUF": "Qwen3-1.7B-Q4_K_M.gguf",
    }
    for seed, (repo, name) in enumerate(singles.items()):
        hub.add_repo(repo, {name: GeneratedFile(800 + seed, seed=seed)})


def requested_repos(hub: FakeHub) -> set[str]:
    """The repos the fake Hub was asked anything about."""
    found = set()
    for request in hub.requests:
        match = re.match(r"/(?:api/models/)?([^/]+/[^/]+)/", request.path)
        assert match, request.path
        found.add(match[1])
    return found


def copy_example(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return root
