"""`invoke models.list` end to end on the example suite, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO_ROOT, invoke_r_command

EXAMPLE = REPO_ROOT / "examples" / "llama.cpp"

EXPECTED_MODELS = {
    ("bartowski/Qwen_Qwen3-0.6B-GGUF:Q4_K_M", None, None),
    ("ggml-org/embeddinggemma-300M-GGUF", "embeddinggemma-300M-Q8_0.gguf", None),
    ("ggml-org/gemma-3-4b-it-GGUF:Q4_K_M", None, None),
    ("ggml-org/models", "bert-bge-small/ggml-model-f16.gguf", None),
    ("ggml-org/models", "tinyllamas/split/stories15M-q8_0-00001-of-00003.gguf", None),
    ("ggml-org/models", "tinyllamas/stories15M-q4_0.gguf", None),
    ("ggml-org/models", "tinyllamas/stories15M-q4_0.gguf", "main"),
    ("ggml-org/models", "tinyllamas/stories260K.gguf", None),
    ("ggml-org/SmolVLM-256M-Instruct-GGUF:Q8_0", None, None),
    ("ggml-org/stories15M_MOE", "moe_shakespeare15M.gguf", "main"),
    ("ggml-org/stories15M_MOE", "stories15M_MOE-F16.gguf", None),
    ("ggml-org/test-model-stories260K", None, None),
    ("ggml-org/test-model-stories260K-infill", None, None),
    ("ggml-org/this-model-does-not-exist", None, None),
    ("ggml-org/tinygemma3-GGUF:Q8_0", None, None),
    ("lmstudio-community/Llama-3.2-1B-Instruct-GGUF", "Llama-3.2-1B-Instruct-Q4_K_M.gguf", None),
    ("lmstudio-community/Qwen3-1.7B-GGUF", "Qwen3-1.7B-Q4_K_M.gguf", None),
    ("Qwen/Qwen3-Embedding-0.6B-GGUF", "Qwen3-Embedding-0.6B-Q8_0.gguf", None),
    ("unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF:Q4_K_M", None, None),
    ("unsloth/gemma-3-1b-it-GGUF:Q4_K_M", None, None),
    ("unsloth/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q4_K_M.gguf", None),
}
EXPECTED_DIAGNOSTICS = {
    ("tools/server/tests/unit/test_basic.py", 74),
    ("tools/server/tests/unit/test_tool_call.py", 41),
    ("tools/server/tests/unit/test_tool_call.py", 64),
}


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    """`invoke ARGS` run in this repo, without -r: invoke finds tasks.py from the cwd."""
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def check_example_document(document: dict[str, Any]) -> None:
    models = {(m["hf_repo"], m["hf_file"], m["revision"]) for m in document["models"]}
    assert models == EXPECTED_MODELS
    diagnostics = {(d["file"], d["line"]) for d in document["diagnostics"]}
    assert diagnostics == EXPECTED_DIAGNOSTICS
    assert document["files_scanned"] == 9
    split = next(m for m in document["models"] if m["hf_repo"].startswith("ggml-org/tinygemma3"))
    assert (split["repo"], split["tag"]) == ("ggml-org/tinygemma3-GGUF", "Q8_0")
    assert split["references"] == [{"file": "tools/server/tests/utils.py", "line": 216,
                                    "test": "ServerPreset.tinygemma3", "kind": "assignment"}]
    kinds = {kind for m in document["models"] for kind in m["kinds"]}
    assert kinds == {"parametrize", "assignment", "keyword", "url"}


def test_json_from_this_repo_with_root() -> None:
    run = invoke("models.list", "--root", "examples/llama.cpp", "--json")
    assert run.returncode == 0, run.stderr
    check_example_document(json.loads(run.stdout))


def test_json_from_a_checkout_with_search_root() -> None:
    """The same tasks.py, run from inside a llama.cpp checkout with `invoke -r`."""
    run = subprocess.run(invoke_r_command("models.list", "--json"), cwd=EXAMPLE,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    check_example_document(json.loads(run.stdout))


def test_human_output_table_diagnostics_and_summary() -> None:
    run = invoke("models.list", "--root", "examples/llama.cpp",
                 "--deny", "*/this-model-does-not-exist")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    row = next(line for line in lines if line.startswith("ggml-org/tinygemma3-GGUF"))
    assert ":Q8_0" in row and "utils.py:216" in row
    assert any("this-model-does-not-exist (denied)" in line for line in lines)
    assert "unit/test_tool_call.py:64: warning: model repo: f-string" in run.stdout
    assert lines[-1] == ("21 models (1 denied), 30 references, 3 diagnostics, "
                         "9 files scanned under tools/server/tests/")
    order = [line.split()[0] for line in lines[2:23]]
    assert order == sorted(order, key=str.lower), "rows are sorted by repo"


def test_strict_fails_on_diagnostics_and_no_match_exits_2(tmp_path: Path) -> None:
    strict = invoke("models.list", "--root", "examples/llama.cpp", "--strict", "--json")
    assert strict.returncode == 1
    assert json.loads(strict.stdout)["diagnostics"]
    empty = invoke("models.list", "--root", str(tmp_path), "--tests", "suite/*.py")
    assert empty.returncode == 2
    assert f"no test file matched under {tmp_path} (globs: suite/*.py)" in empty.stderr


def test_config_file_sets_options(tmp_path: Path) -> None:
    config = tmp_path / "invoke.yaml"
    config.write_text("models:\n  root: examples/llama.cpp\n  json: true\n"
                      "  tests: ['tools/server/tests/unit/test_lora.py']\n")
    run = invoke("-f", str(config), "models.list")
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["files_scanned"] == 1
    assert {m["hf_file"] for m in document["models"]} == {
        "stories15M_MOE-F16.gguf", "moe_shakespeare15M.gguf"}


def test_bad_option_values_are_usage_errors_not_tracebacks() -> None:
    run = invoke("models.fetch", "--root", "examples/llama.cpp", "--backend", "foo")
    assert run.returncode == 2
    assert "error: invalid option: backend: Input should be 'native' or 'llama'" in run.stderr
    run = invoke("models.fetch", "--root", "examples/llama.cpp", "--jobs", "0")
    assert (run.returncode, "Traceback" in run.stderr) == (2, False)
    assert "jobs: Input should be greater than or equal to 1" in run.stderr


@pytest.mark.parametrize(("config", "env", "message"), [
    ("models:\n  denny: ['*/x']\n", {},
     "models.denny: unknown configuration key; did you mean 'deny'?"),
    ("test:\n  workerz: 2\n", {}, "test.workerz: unknown configuration key; did you mean "
                                  "'workers'?"),
    ("models:\n  tests: 5\n", {}, "tests: Input should be a valid string"),
    ("models:\n  deny: 3\n", {}, "deny: Input should be a valid string; deny: Input should "
                                  "be a valid list"),
    ("models:\n  cache_dir: 5\n", {}, "cache_dir: Input should be a valid string"),
    ("", {"INVOKE_MODELS_JOBS": "abc"}, "jobs: Input should be a valid integer"),
    ("", {"INVOKE_MODELS_OFFLINE": "maybe"}, "offline: Input should be a valid boolean"),
])
def test_bad_configuration_is_a_usage_error_naming_the_key(
    tmp_path: Path, config: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "invoke.yaml"
    path.write_text(config or "models: {}\n")
    run = subprocess.run([sys.executable, "-m", "invoke", "-f", str(path), "models.list",
                          "--root", "examples/llama.cpp"], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=120, env={**os.environ, **env})
    assert (run.returncode, "Traceback" in run.stderr) == (2, False), run.stderr
    assert f"error: invalid option: {message}" in run.stderr


def test_fetch_help_shows_every_option_as_a_long_flag_only() -> None:
    """No one-letter flag that would shadow pytest's (`-n` was `--no-mmproj`), and none
    left with a nonsense flag (`--, --no-mmproj`)."""
    text = invoke("--help", "models.fetch").stdout
    assert "  --no-mmproj  " in text and "  --jobs=STRING  " in text
    assert "--connections=STRING" in text and "--, " not in text and "-n, " not in text
