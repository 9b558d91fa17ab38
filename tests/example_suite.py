"""The runnable example suite (examples/server-suite) as the tests use it: a copy to run,
and the fake Hub serving every repo it names."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import commands
from scanner.cli.options import build_options
from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import REPO_ROOT, invoke_command

EXAMPLE = REPO_ROOT / "examples" / "server-suite"


#: A remote preset, as `ggml-org/test-preset-ci` holds one: keys in long and short forms,
#: defaults under `[*]`, keys before any section (`version`, skipped by llama.cpp).
PRESET_INI = """version = 1

[*]
ctx-size = 512 ; every model's
hf-file = preset-a-F32.gguf

[stories-preset]
hf-repo = ggml-org/test-preset-model-a

[tiny-preset]
hfr = ggml-org/test-preset-model-b:Q8_0
hff = preset-b-Q8_0.gguf
"""


def serve_example_repos(hub: FakeHub) -> None:
    """Every repo the example names, with small files shaped as llama.cpp expects."""
    split = {f"tinyllamas/split/stories15M-q8_0-0000{i}-of-00003.gguf": GeneratedFile(900 + i)
             for i in (1, 2, 3)}
    hub.add_repo("ggml-org/models", {"tinyllamas/stories260K.gguf": GeneratedFile(1000),
                                     "bert-bge-small/ggml-model-f16.gguf": GeneratedFile(1100),
                                     **split})
    hub.add_repo("ggml-org/tinygemma3-GGUF", {"tinygemma3-Q8_0.gguf": GeneratedFile(1200),
                                              "mmproj-tinygemma3.gguf": GeneratedFile(300),
                                              "test/11_truck.png": GeneratedFile(400)})
    hub.add_repo("ggml-org/tiny-llamas", {"stories15M-q4_0.gguf": GeneratedFile(700, seed=7)})
    singles = {
        "ggml-org/test-model-stories260K": "stories260K-F32.gguf",
        "ggml-org/test-model-stories260K-infill": "stories260K-infill-F32.gguf",
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
    hub.add_repo("ggml-org/stories15M_MOE", {"stories15M_MOE-F16.gguf": GeneratedFile(850),
                                             "moe_shakespeare15M.gguf": GeneratedFile(650)})
    hub.add_repo("ggml-org/test-preset-ci", {"preset.ini": PRESET_INI.encode()})
    hub.add_repo("ggml-org/test-model-preset-text", {"text-Q4_K_M.gguf": GeneratedFile(660)})
    hub.add_repo("ggml-org/test-preset-model-a", {"preset-a-F32.gguf": GeneratedFile(610),
                                                  "preset-a-Q8_0.gguf": GeneratedFile(620)})
    hub.add_repo("ggml-org/test-preset-model-b", {"preset-b-F16.gguf": GeneratedFile(630),
                                                  "preset-b-Q8_0.gguf": GeneratedFile(640)})


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


def run_task(root: Path, cache: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    full_env = dict(inherited, LLAMA_CACHE=str(cache), PYTEST_WORKERS="1", **env)
    return subprocess.run(invoke_command(*args), cwd=root, env=full_env, capture_output=True,
                          text=True, timeout=180)


def fetch_json(root: Path, capsys: pytest.CaptureFixture[str], *selection: str,
               code: int = 0, **flags: Any) -> dict[str, Any]:
    """`models.fetch --json -- SELECTION` in this process on the suite at `root`."""
    options = build_options({}, root=str(root), json=True, selection=list(selection), **flags)
    assert commands.fetch_models(options, dict(os.environ)) == code
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document
