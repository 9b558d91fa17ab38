"""`invoke models.fetch --backend llama`, run as a user would; llama.cpp is the stand-in
executable of tests/llama_standin.py, not a real build."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.helpers import invoke_command, write_suite
from tests.llama_standin import read_log, write_standin

SUITE = """
def test_a():
    a.model_hf_repo = "ggml-org/models"
    a.model_hf_file = "tinyllamas/split/stories15M-q8_0-00001-of-00003.gguf"
    b.model_hf_repo = "ggml-org/Qwen3-0.6B-GGUF:Q8_0"
    c.model_hf_repo = "ggml-org/broken-repo"
"""


def run(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(invoke_command("models.fetch", *args), cwd=root,
                          env=dict(os.environ, **env), capture_output=True, text=True, timeout=120)


def test_llama_backend_fetches_every_model_and_reports_failures(tmp_path: Path) -> None:
    root = write_suite(tmp_path / "proj", SUITE, "test_a.py")
    log, cache = tmp_path / "log.jsonl", tmp_path / "cache"
    llama = write_standin(root / "build/bin", "llama")
    result = run(root, "--backend", "llama", LLAMA_CACHE=str(cache), STANDIN_LOG=str(log),
                 STANDIN_FAIL_REPOS="ggml-org/broken-repo")
    assert result.returncode == 1
    argv = [entry["argv"] for entry in read_log(log)]
    assert argv == [
        ["download", "-hf", "ggml-org/broken-repo"],
        ["download", "-hf", "ggml-org/models", "-hff",
         "tinyllamas/split/stories15M-q8_0-00001-of-00003.gguf"],
        ["download", "-hf", "ggml-org/Qwen3-0.6B-GGUF:Q8_0"],
    ]
    assert all(entry["env"]["LLAMA_CACHE"] == str(cache) for entry in read_log(log))
    parts = list((cache / "models--ggml-org--models").rglob("*-of-00003.gguf"))
    assert len(parts) == 3, "split models are fetched whole, never skipped"
    assert f"command: {llama} download -hf ggml-org/broken-repo" in result.stdout
    assert "needed by: tools/server/tests/test_a.py:6" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("3 models: 2 fetched, 1 failed")


def test_llama_backend_json_and_missing_binary(tmp_path: Path) -> None:
    root, log = write_suite(tmp_path / "proj", SUITE, "test_a.py"), tmp_path / "log.jsonl"
    empty_path = str(tmp_path / "nowhere")
    missing = run(root, "--backend", "llama", PATH=empty_path)
    assert missing.returncode == 2
    assert "--llama-bin" in missing.stderr and "LLAMA_BIN" in missing.stderr
    assert str(root / "build/bin") in missing.stderr
    llama = write_standin(tmp_path / "elsewhere", "llama")
    result = run(root, "--backend", "llama", "--json", STANDIN_LOG=str(log),
                 LLAMA_BIN=str(llama), LLAMA_CACHE=str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["binary"] == str(llama)
    assert [m["ok"] for m in document["models"]] == [True, True, True]


def test_llama_timeout_stops_a_hung_run_and_fails_its_model(tmp_path: Path) -> None:
    root = write_suite(tmp_path / "proj", SUITE, "test_a.py")
    log, cache = tmp_path / "log.jsonl", tmp_path / "cache"
    write_standin(root / "build/bin", "llama")
    result = run(root, "--backend", "llama", "--llama-timeout", "0.5", LLAMA_CACHE=str(cache),
                 STANDIN_LOG=str(log), STANDIN_SLEEP="30")
    assert result.returncode == 1
    assert result.stdout.count("timed out after 0.5s") == 3, result.stdout
    assert result.stdout.splitlines()[-1].startswith("3 models: 0 fetched, 3 failed")
    bad = run(root, "--backend", "llama", "--llama-timeout", "0")
    assert bad.returncode == 2 and "llama_timeout" in bad.stderr


def test_llama_dry_run_runs_nothing_and_json_stays_json(tmp_path: Path) -> None:
    root = write_suite(tmp_path / "proj", SUITE, "test_a.py")
    log, cache = tmp_path / "log.jsonl", tmp_path / "cache"
    write_standin(root / "build/bin", "llama")
    env = {"LLAMA_CACHE": str(cache), "STANDIN_LOG": str(log),
           "STANDIN_FAIL_REPOS": "ggml-org/broken-repo"}
    dry = run(root, "--backend", "llama", "--dry-run", **env)
    assert dry.returncode == 0 and read_log(log) == []
    assert "ggml-org/broken-repo: " in dry.stdout
    assert "download -hf ggml-org/broken-repo" in dry.stdout
    result = run(root, "--backend", "llama", "--json", **env)
    assert result.returncode == 1
    document = json.loads(result.stdout)  # nothing but the document on stdout
    assert [m["ok"] for m in document["models"]] == [False, True, True]


def test_llama_backend_runs_only_the_selections_models(tmp_path: Path) -> None:
    two_tests = SUITE + '\n\ndef test_b():\n    d.model_hf_repo = "ggml-org/only-for-b"\n'
    root = write_suite(tmp_path / "proj", two_tests, "test_a.py")
    log, cache = tmp_path / "log.jsonl", tmp_path / "cache"
    write_standin(root / "build/bin", "llama")
    result = run(root, "--backend", "llama", "--json", "--", "-k", "test_b",
                 LLAMA_CACHE=str(cache), STANDIN_LOG=str(log))
    assert result.returncode == 0, result.stderr
    assert [entry["argv"] for entry in read_log(log)] == [["download", "-hf",
                                                           "ggml-org/only-for-b"]]
    document = json.loads(result.stdout)
    assert (document["selection"]["selected_tests"], document["selection"]["models"],
            document["selection"]["total_models"]) == (1, 1, 4)
