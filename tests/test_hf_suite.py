"""`models.list` in a project that is not llama.cpp (examples/hf-suite), with no option: the
suite is found as pytest finds it, and every shape of framework reference is listed."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from scanner.scan.config import ScanConfig
from scanner.scan.suite import scan_suite
from tests.helpers import REPO_ROOT, invoke_command

EXAMPLE = REPO_ROOT / "examples" / "hf-suite"

#: (repo, file, revision, loader) of every model the example's tests load, by hand
EXPECTED = {
    ("example-org/causal-a", None, None, "transformers"),
    ("example-org/causal-b", None, None, "transformers"),
    ("example-org/causal-revised", None, "refs/pr/1", "transformers"),
    ("example-org/classifier", None, None, "transformers"),
    ("example-org/summarizer", None, None, "transformers"),
    ("example-org/env-causal", None, None, "transformers"),
    ("example-org/tiny-tokenizer", None, None, "transformers"),
    ("gpt2", None, None, "transformers"),
    ("example-org/tiny-adapter", None, None, "transformers"),
    ("example-org/files", "onnx/config.json", None, "hub_file"),
    ("example-org/snapshot", None, None, "hub_snapshot"),
    ("example-org/tiny-embedder", None, None, "hub_snapshot"),
    ("sentence-transformers/all-MiniLM-L6-v2", None, None, "sentence_transformers"),
    ("example-org/multilingual-embedder", None, None, "sentence_transformers"),
    ("example-org/reranker", None, None, "sentence_transformers"),
    ("example-org/tiny-sd", None, None, "diffusers"),
    ("example-org/tiny-lora", "pytorch_lora_weights.safetensors", None, "diffusers"),
    ("example-org/single-file", "model.safetensors", "main", "diffusers"),
    ("example-org/tiny-llama-chat", None, None, "server"),
    ("example-org/served-by-cli", None, None, "server"),
    ("example-org/fixture-param-model", None, None, "unknown"),
    ("example-org/joined-a", None, None, "unknown"),
    ("example-org/joined-b", None, None, "unknown"),
    ("example-org/marked-model", None, None, "unknown"),
    ("example-org/param-a", None, None, "unknown"),
    ("example-org/param-b", None, None, "unknown"),
    ("example-org/registry-llama", None, None, "unknown"),
    ("example-org/registry-mistral", None, None, "unknown"),
}


def test_models_list_from_the_project_root_with_no_option() -> None:
    run = subprocess.run(invoke_command("models.list", "--json"), cwd=EXAMPLE,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert {(m["hf_repo"], m["hf_file"], m["revision"], m["loader"])
            for m in document["models"]} == EXPECTED
    assert document["files_scanned"] == 7, "tests/ only: pyproject.toml's testpaths"
    assert document["diagnostics"] == []
    served = next(m for m in document["models"] if m["repo"] == "example-org/tiny-llama-chat")
    assert [(r["file"], r["line"], r["call"]) for r in served["references"]] == [
        ("tests/conftest.py", 13, "RemoteOpenAIServer"),
        ("tests/unit/test_server.py", 23, "popen_launch_server")]

    # a framework's model is fetched by its rules, a `from_single_file` URL included: what
    # the suite still fetches from the Hub itself is its datasets
    assert document["network_needs"] == [
        {"file": "tests/unit/test_hub.py", "tests": None,
         "files": ["dataset example-org/squad-mini", "dataset example-org/csv-data"]}]


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


LOADS = "from transformers import AutoModel\nAutoModel.from_pretrained('acme/{}')\n"


@pytest.mark.parametrize("config_file, text", [
    ("pytest.ini", "[pytest]\ntestpaths = checks other\n"),
    ("pyproject.toml", "[tool.pytest.ini_options]\ntestpaths = ['checks', 'other']\n"),
    ("tox.ini", "[tox]\n[pytest]\ntestpaths =\n    checks\n    other\n"),
    ("setup.cfg", "[metadata]\nname = x\n[tool:pytest]\ntestpaths = checks other\n"),
])
def test_testpaths_from_each_pytest_configuration_file(
    tmp_path: Path, config_file: str, text: str
) -> None:
    root = write(tmp_path, {config_file: text, "checks/test_a.py": LOADS.format("in-checks"),
                            "other/helpers.py": LOADS.format("in-other"),
                            "tests/test_b.py": LOADS.format("not-a-testpath")})
    result = scan_suite(root, ScanConfig())
    assert {m.repo for m in result.models()} == {"acme/in-checks", "acme/in-other"}



def test_an_empty_pytest_table_in_pyproject_is_the_configuration_pytest_reads(
    tmp_path: Path
) -> None:
    """pytest stops at `[tool.pytest.ini_options]` even when it is empty: tox.ini's testpaths
    are not its (they were taken)."""
    root = write(tmp_path, {"pyproject.toml": "[tool.pytest.ini_options]\n",
                            "tox.ini": "[pytest]\ntestpaths = checks\n",
                            "checks/helpers.py": LOADS.format("only-a-tox-testpath"),
                            "tests/test_b.py": LOADS.format("a-test-file")})
    assert {m.repo for m in scan_suite(root, ScanConfig()).models()} == {"acme/a-test-file"}

def test_without_testpaths_test_files_anywhere_but_where_pytest_never_looks(
    tmp_path: Path
) -> None:
    root = write(tmp_path, {
        "pkg/tests/test_a.py": LOADS.format("test-file"),
        "pkg/tests/utils.py": LOADS.format("helper-of-a-test-folder"),
        "pkg/module.py": LOADS.format("library-code"),
        "test_top.py": LOADS.format("top"),
        ".venv/lib/test_site.py": LOADS.format("hidden-venv"),
        "env/pyvenv.cfg": "",
        "env/lib/test_x.py": LOADS.format("virtualenv"),
        "build/test_copy.py": LOADS.format("build-copy"),
        "node_modules/x/test_y.py": LOADS.format("node-modules"),
    })
    result = scan_suite(root, ScanConfig())
    assert {m.repo for m in result.models()} == {
        "acme/test-file", "acme/helper-of-a-test-folder", "acme/top"}


def test_llama_cpp_defaults_where_its_server_tests_exist(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "pytest.ini": "[pytest]\ntestpaths = tests\n",
        "tools/server/tests/unit/test_a.py": "def test_a():\n    s.model_hf_repo = 'acme/gguf'\n",
        "tests/test_b.py": LOADS.format("elsewhere"),
    })
    assert {m.repo for m in scan_suite(root, ScanConfig()).models()} == {"acme/gguf"}


def test_a_selection_keeps_the_framework_models_of_the_tests_it_runs(tmp_path: Path) -> None:
    """From the project root, pytest's own collection decides: rows of a test that does not
    run, and other tests' calls, are left out."""
    root = write(tmp_path, {"pytest.ini": "[pytest]\ntestpaths = tests\n",
                            "tests/test_sel.py": """
        import pytest

        class AutoTokenizer:
            @staticmethod
            def from_pretrained(name): ...

        @pytest.mark.parametrize("checkpoint", ["acme/tok-a", "acme/tok-b"])
        def test_loaded(checkpoint):
            AutoTokenizer.from_pretrained(checkpoint)

        @pytest.mark.parametrize("name", ["acme/row-a"])
        def test_rows(name):
            run_with(name)

        def test_other():
            AutoTokenizer.from_pretrained("acme/other")
    """})

    def listed(*selection: str) -> set[str]:
        run = subprocess.run(invoke_command("models.list", "--json", "--", *selection),
                             cwd=root, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        return {m["hf_repo"] for m in json.loads(run.stdout)["models"]}

    assert listed("-k", "rows") == {"acme/row-a"}
    assert listed("-k", "loaded or other") == {"acme/tok-a", "acme/tok-b", "acme/other"}


def test_llama_cpp_s_names_are_not_models_in_another_project(tmp_path: Path) -> None:
    """lighteval's tasks take `hf_repo="org/dataset"`: outside llama.cpp's suite that name is
    not llama.cpp's, and no GGUF rule may be asked to fetch it; configured, it is again."""
    root = write(tmp_path, {"tests/test_task.py": """
        def test_task():
            LightevalTaskConfig(hf_repo="acme/task-dataset", hf_subset="default")
            AutoTokenizer.from_pretrained("acme/tokenizer")
    """})
    assert {(m.repo, m.loader) for m in scan_suite(root, ScanConfig()).models()} == {
        ("acme/tokenizer", "transformers")}
    configured = ScanConfig(repo_names=("hf_repo",))
    assert {(m.repo, m.loader) for m in scan_suite(root, configured).models()} == {
        ("acme/task-dataset", None), ("acme/tokenizer", "transformers")}
