"""The selection after `--`, end to end on examples/server-suite (shaped like llama.cpp's suite
today, with a stand-in ServerProcess that checks the cache instead of starting llama-server):
pytest collects, the tool narrows, the fake Hub sees only the selection's repos, and the tests
then pass offline."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import commands
from scanner.cli.options import build_options
from tests.example_suite import (
    EXAMPLE,
    copy_example,
    requested_repos,
    run_task,
    serve_example_repos,
)
from tests.fakehub import FakeHub

Model = tuple[str, str | None, str | None]
PRESETS: set[Model] = {
    ("ggml-org/models", "tinyllamas/stories260K.gguf", None),
    ("ggml-org/models", "bert-bge-small/ggml-model-f16.gguf", None),
    ("ggml-org/tinygemma3-GGUF:Q8_0", None, None),
}
BASIC: set[Model] = {
    ("ggml-org/models", "tinyllamas/split/stories15M-q8_0-00001-of-00003.gguf", None),
    ("ggml-org/test-model-stories260K", None, None),
}
INFILL: set[Model] = {("ggml-org/test-model-stories260K-infill", None, None)}
EMBEDDING: set[Model] = {("ggml-org/models", "bert-bge-small/ggml-model-f16.gguf", "main")}
SPECULATIVE: set[Model] = {("ggml-org/stories15M_MOE", "stories15M_MOE-F16.gguf", None),
                           ("ggml-org/tiny-llamas", "stories15M-q4_0.gguf", "main")}
LORA: set[Model] = {("ggml-org/stories15M_MOE", "moe_shakespeare15M.gguf", "main")}
PRESET_MODELS: set[Model] = {("ggml-org/test-preset-ci", None, None),
                             ("ggml-org/test-model-preset-text", None, None)}
IMAGES: set[Model] = {("ggml-org/tinygemma3-GGUF", "test/11_truck.png", "main")}
SKIPPED_UNLESS_SLOW: set[Model] = {
    ("ggml-org/embeddinggemma-300M-GGUF", "embeddinggemma-300M-Q8_0.gguf", None),
    ("ggml-org/Qwen2.5-Coder-7B-Q8_0-GGUF", None, None),
}
TOOL_CALL: set[Model] = {
    ("bartowski/Qwen_Qwen3-8B-GGUF:Q4_K_M", None, None),
    ("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M", None, None),
    ("bartowski/gemma-2-2b-it-GGUF:Q4_K_M", None, None),
    ("unsloth/Qwen3-0.6B-GGUF:Q4_K_M", None, None),  # an f-string only collection can read
    ("unsloth/Qwen3-1.7B-GGUF:Q4_K_M", None, None),
}
NOT_SLOW = PRESETS | BASIC | INFILL | EMBEDDING | SPECULATIVE | LORA | PRESET_MODELS | IMAGES


def list_json(capsys: pytest.CaptureFixture[str], selection: list[str] | None,
              root: Path = EXAMPLE, **env: str) -> dict[str, Any]:
    options = build_options({}, root=str(root), json=True, selection=selection)
    assert commands.list_models(options, dict(os.environ, **env)) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def models_of(document: dict[str, Any]) -> set[Model]:
    return {(m["hf_repo"], m["hf_file"], m["revision"]) for m in document["models"]}


@pytest.mark.parametrize(("selection", "expected"), [
    pytest.param([], NOT_SLOW | TOOL_CALL, id="no arguments"),
    pytest.param(["-m", "not slow"], NOT_SLOW, id="not slow"),
    pytest.param(["unit/test_basic.py"], PRESETS | BASIC, id="one file"),
    pytest.param(["unit/test_speculative.py::TestSpeculative::test_with_draft"],
                 PRESETS | SPECULATIVE, id="one node id"),
    pytest.param(["-k", "infill or by_size"], PRESETS | INFILL | TOOL_CALL - {
        ("bartowski/Qwen_Qwen3-8B-GGUF:Q4_K_M", None, None),
        ("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M", None, None),
        ("bartowski/gemma-2-2b-it-GGUF:Q4_K_M", None, None)}, id="-k"),
])
def test_each_selection_needs_exactly_its_models(
    capsys: pytest.CaptureFixture[str], selection: list[str], expected: set[Model]
) -> None:
    document = list_json(capsys, selection)
    assert models_of(document) == expected
    assert document["selection"]["arguments"] == selection
    assert document["diagnostics"] == [], "pytest read what the scan could only warn about"


def test_a_selection_of_no_test_is_exit_5_with_no_list(capsys: pytest.CaptureFixture[str]) -> None:
    options = build_options({}, root=str(EXAMPLE), json=True,
                            selection=["-k", "no_test_has_this_name"])
    assert commands.list_models(options, dict(os.environ)) == 5
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("no test selected: `pytest -k no_test_has_this_name`")


def test_slow_tests_allowed_bring_their_skipif_models(capsys: pytest.CaptureFixture[str]) -> None:
    document = list_json(capsys, [], SLOW_TESTS="1")
    assert models_of(document) == NOT_SLOW | TOOL_CALL | SKIPPED_UNLESS_SLOW
    assert document["selection"]["skipped_tests"] == 0


def test_without_a_selection_the_whole_static_scan_is_listed(
    capsys: pytest.CaptureFixture[str]
) -> None:
    document = list_json(capsys, None)
    assert document["selection"] is None
    computed = {("unsloth/Qwen3-0.6B-GGUF:Q4_K_M", None, None),
                ("unsloth/Qwen3-1.7B-GGUF:Q4_K_M", None, None)} | INFILL
    assert models_of(document) == (NOT_SLOW | TOOL_CALL | SKIPPED_UNLESS_SLOW) - computed
    assert {d["line"] for d in document["diagnostics"]} == {15, 32, 36}


def test_human_output_names_the_selection_and_n_of_m(capsys: pytest.CaptureFixture[str]) -> None:
    options = build_options({}, root=str(EXAMPLE), selection=["-m", "not slow"])
    assert commands.list_models(options, dict(os.environ)) == 0
    out = capsys.readouterr().out
    assert re.search(r"selection: pytest -m 'not slow': 14 tests selected \(2 skipped by their "
                     r"marks\), 13 of 18 models \(collected in \d+\.\d s\)", out), out
    assert "13 of 18 models (0 denied), " in out.splitlines()[-1]


# -- against the fake Hub ----------------------------------------------------------------------

def test_one_file_fetches_only_its_repos_then_passes_offline(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    run = run_task(copy_example(tmp_path), tmp_path / "cache", "test.server", "--offline", "--",
                   "unit/test_basic.py", "-p", "no:cacheprovider")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 tests selected, 5 of 17 models" in run.stdout
    assert requested_repos(fake_hub) == {"ggml-org/models", "ggml-org/tinygemma3-GGUF",
                                         "ggml-org/test-model-stories260K"}
    assert "3 passed" in run.stdout


def test_default_run_is_tests_sh_without_slow_tests(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    run = run_task(copy_example(tmp_path), tmp_path / "cache", "test.server", "--offline",
                   "--workers", "1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "test.server: pytest --durations=30 -v -x -m 'not slow' in " in run.stdout
    assert "14 tests selected (2 skipped by their marks), 13 of 18 models" in run.stdout
    assert not any(repo.startswith(("bartowski/", "unsloth/"))
                   for repo in requested_repos(fake_hub)), "no slow model was even listed"
    assert re.search(r"12 passed, 2 skipped, 5 deselected", run.stdout), run.stdout


def test_slow_run_fetches_and_passes_every_test(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    run = run_task(copy_example(tmp_path), tmp_path / "cache", "test.server", "--offline", "--slow")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "-m 'not slow'" not in run.stdout
    assert "19 tests selected, 20 of 20 models" in run.stdout
    assert "19 passed" in run.stdout


def test_xdist_run_collects_once_per_worker_and_fetches_once(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    log = tmp_path / "collections.log"
    with (root / "tools/server/tests/conftest.py").open("a") as conftest:
        conftest.write(
            "\n\ndef pytest_collection_finish(session):\n"
            "    with open(os.environ['COLLECT_LOG'], 'a') as log:\n"
            "        worker = os.environ.get('PYTEST_XDIST_WORKER', 'controller')\n"
            "        log.write(f'{session.config.option.collectonly} {worker}\\n')\n")
    run = run_task(root, tmp_path / "cache", "test.server", "--offline", "--workers", "2",
                   "--", "-m", "not slow", COLLECT_LOG=str(log))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "-n 2 --dist=worksteal -m 'not slow'" in run.stdout
    assert "2 workers [14 items]" in run.stdout
    assert sorted(log.read_text().splitlines()) == ["False gw0", "False gw1"], (
        "collected by the test run's workers alone: no collection of its own before it")
    downloads = [r.path for r in fake_hub.requests if r.kind == "resolve" and r.method == "GET"]
    assert len(downloads) == len(set(downloads)) == 16, \
        "each file once: 3 split parts, 1 mmproj, 2 URL files, a preset and 3 preset models"


def test_a_failed_collection_fetches_nothing_and_names_the_missing_module_and_its_fix(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A selection that pytest cannot collect is not replaced by the whole suite (tens of GB
    for a run that cannot start): exit 2, the module and the pip command, no request."""
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    conftest = root / "tools/server/tests/conftest.py"
    conftest.write_text("import requirement_not_installed\n" + conftest.read_text())
    (root / "tools/server/tests/requirements.txt").write_text("requirement_not_installed\n")
    for command in (commands.list_models, commands.fetch_models, commands.lock_models):
        options = build_options({}, root=str(root), selection=["-m", "not slow"])
        assert command(options, dict(os.environ)) == 2
        out, err = capsys.readouterr()
        assert (f"error: {sys.executable} (this tool's interpreter) cannot collect the suite: "
                "No module named 'requirement_not_installed'. Install the suite's "
                "requirements:") in err
        assert (f"    {sys.executable} -m pip install -r "
                f"{root / 'tools/server/tests/requirements.txt'}\n") in err
        assert "Nothing was fetched" in err and out == ""
    assert fake_hub.requests == []
