"""Remote presets: a repo holding `preset.ini` brings the models its sections name, read as
llama.cpp's `common/preset.cpp` reads them; fetched, locked, pruned and listed like any other."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.cli import commands
from scanner.cli.options import build_options
from scanner.llama.preset import PresetError, PresetModel, preset_models
from scanner.models import ScanResult
from tests.example_suite import PRESET_INI, copy_example, fetch_json, run_task, serve_example_repos
from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import llama_offline_lookup

ROUTER = "unit/test_router.py"
WHERE = "hf://ggml-org/test-preset-ci/preset.ini"


def scan_test_file(root: Path, relpath: str, source: str) -> ScanResult:
    """The static scan of a suite of one test file, `relpath` under llama.cpp's suite folder."""
    from scanner.scan.config import ScanConfig
    from scanner.scan.suite import scan_suite

    path = root / "tools/server/tests" / relpath
    path.parent.mkdir(parents=True)
    path.write_text(source)
    return scan_suite(root, ScanConfig(), workers=0)


def test_sections_defaults_and_key_forms_as_llama_cpp_reads_them() -> None:
    assert preset_models(PRESET_INI) == [
        PresetModel("stories-preset", 8, "ggml-org/test-preset-model-a", "preset-a-F32.gguf"),
        PresetModel("tiny-preset", 11, "ggml-org/test-preset-model-b:Q8_0", "preset-b-Q8_0.gguf"),
    ]
    text = ("hf-repo = org/before-any-section  # the default section counts\n"
            "[a]\nLLAMA_ARG_HF_REPO = org/a\nhfd = org/draft ; a comment\nmd = d.gguf\n"
            "mu = https://huggingface.co/org/u/resolve/main/u.gguf\n"
            "[b]\nhf-repo = org/dropped\n[b]\nhf = org/b\n")
    assert [(m.section, m.hf_repo, m.hf_file, m.url) for m in preset_models(text)] == [
        ("default", "org/before-any-section", None, None),
        ("a", "org/a", None, None), ("a", "org/draft", "d.gguf", None),
        ("a", None, None, "https://huggingface.co/org/u/resolve/main/u.gguf"),
        ("b", "org/b", None, None),  # a repeated header starts its section afresh
    ]


def test_a_line_llama_cpp_refuses_names_its_line() -> None:
    with pytest.raises(PresetError, match="line 3 is not a"):
        preset_models("[a]\nhf-repo = org/a\n  indented = no\n")
    assert preset_models("[a]\n  hf-repo = org/a\n", strict=False)[0].hf_repo == "org/a"


def test_the_models_a_remote_preset_names_are_fetched_then_the_router_test_passes_offline(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    document = fetch_json(root, capsys, ROUTER)
    models = {m["hf_repo"]: m for m in document["models"]}
    a, b = models["ggml-org/test-preset-model-a"], models["ggml-org/test-preset-model-b:Q8_0"]
    assert [(f["path"], f["status"]) for f in a["files"]] == [("preset-a-F32.gguf", "downloaded")]
    assert [f["path"] for f in b["files"]] == ["preset-b-Q8_0.gguf"], "the section's hff wins"
    assert a["references"] == [{"file": WHERE, "line": 8, "test": "[stories-preset]",
                                "kind": "preset"}]
    assert llama_offline_lookup(hub_env, "ggml-org/test-preset-model-b", "preset-b-Q8_0.gguf")
    fake_hub.reset_counts()
    again = fetch_json(root, capsys, ROUTER)
    assert {m["status"] for m in again["models"]} == {"cached"}
    assert fake_hub.count("GET", "resolve") == 0, "a second fetch asks for no file"
    fake_hub.stop()
    run = run_task(root, hub_env, "test.server", "--offline", "--no-fetch", "--", ROUTER)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout, "the remote preset and the preset text"


def test_an_unreadable_preset_is_a_diagnostic_naming_the_repo_and_line(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_example_repos(fake_hub)
    fake_hub.add_repo("ggml-org/test-preset-ci", {"preset.ini": b"[a]\nhf-repo = org/a\n<<<\n"})
    root = copy_example(tmp_path)
    document = fetch_json(root, capsys, ROUTER)
    assert document["ok"] is True, "not a failure of the run"
    assert [(d["file"], d["line"], d["message"]) for d in document["diagnostics"]] == [
        (WHERE, 3, "ggml-org/test-preset-ci: preset.ini cannot be read as llama.cpp reads it "
                   "(line 3 is not a [section], a key = value, a comment or blank: '<<<'): "
                   "the models it names are not fetched")]


def test_the_lock_pins_the_preset_models_and_a_locked_fetch_uses_it(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    options = build_options({}, root=str(root), selection=[ROUTER])
    assert commands.lock_models(options, dict(os.environ)) == 0
    capsys.readouterr()
    lines = (root / "tools/server/tests/models.lock").read_text().splitlines()
    assert any(line.startswith("ggml-org/test-preset-model-a\tpreset-a-F32.gguf\t")
               for line in lines)
    assert any(line.startswith("ggml-org/test-preset-model-b:Q8_0\tpreset-b-Q8_0.gguf\t")
               for line in lines)
    fake_hub.add_repo("ggml-org/test-preset-model-a", {"preset-a-F32.gguf": GeneratedFile(611)})
    fake_hub.reset_counts()
    document = fetch_json(root, capsys, ROUTER, locked=True)
    a = next(m for m in document["models"] if m["hf_repo"] == "ggml-org/test-preset-model-a")
    assert a["files"][0]["size"] == 610, "the locked commit, not the moved main"
    assert fake_hub.count("GET", "tree") == 0


def test_the_lock_fetches_the_presets_and_no_model_file(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    fake_hub.reset_counts()
    options = build_options({}, root=str(root), selection=[ROUTER])
    assert commands.lock_models(options, dict(os.environ)) == 0
    fetched = fake_hub.count(kind="resolve")
    assert fetched and fetched == fake_hub.count(kind="resolve", path_contains="preset.ini")


def test_prune_keeps_the_repos_a_cached_preset_names(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    fetch_json(root, capsys, ROUTER)
    options = build_options({}, root=str(root))
    assert commands.prune_models(options, dict(os.environ), yes=True, unreferenced=True) == 0
    capsys.readouterr()
    assert llama_offline_lookup(hub_env, "ggml-org/test-preset-model-a", "preset-a-F32.gguf")


# -- preset text in the tests ------------------------------------------------------------------

def test_preset_text_in_string_constants_is_a_reference_with_its_file_and_line(
    tmp_path: Path
) -> None:
    result = scan_test_file(tmp_path, "unit/test_router.py",
        "def test_reload():\n"
        "    with open(path, 'w') as f:\n"
        "        f.write(\n"
        "            \"[model-reload-a]\\n\"\n"
        "            \"hf-repo = ggml-org/test-model-stories260K\\n\"\n"
        "            \"\\n\"\n"
        "            \"[*]\\n\"\n"
        "            \"hff = b.gguf\\n\"\n"
        "            \"[model-reload-b]\\n\"\n"
        "            \"hfr = ggml-org/b:Q8_0\\n\"\n"
        "        )\n"
        "\n"
        "TEXT = '''\n"
        "[dedup]\n"
        "spec-draft-hf = ggml-org/draft\n"
        "'''\n"
        "NOT_PRESET = 'hf-repo is a key; x = 1'\n")
    assert [(r.model.hf_repo, r.model.hf_file, r.file, r.line, r.test, r.kind)
            for r in result.references] == [
        ("ggml-org/test-model-stories260K", "b.gguf", "tools/server/tests/unit/test_router.py",
         5, "test_reload", "preset"),  # [*] is under every section of the text
        ("ggml-org/b:Q8_0", "b.gguf", "tools/server/tests/unit/test_router.py", 10,
         "test_reload", "preset"),
        ("ggml-org/draft", None, "tools/server/tests/unit/test_router.py", 15, "<module>",
         "preset"),
    ]
    assert result.diagnostics == ()


def test_a_repo_whose_name_begins_another_gets_its_own_line(tmp_path: Path) -> None:
    result = scan_test_file(tmp_path, "test_x.py", 'TEXT = (\n'
                            '    "[b]\\nhf-repo = org/m-infill\\n"\n'
                            '    "[a]\\nhf-repo = org/m\\n"\n)\n')
    assert sorted((r.model.hf_repo, r.line) for r in result.references) == [
        ("org/m", 3), ("org/m-infill", 2)]


def test_preset_text_among_other_lines_still_names_its_models(tmp_path: Path) -> None:
    """A test writing a shell script that writes the preset: the lines llama.cpp would refuse
    are not part of the preset, and do not hide it."""
    result = scan_test_file(tmp_path, "test_x.py",
        "SCRIPT = '''\n"
        "cat > preset.ini <<EOF\n"
        "[a]\n"
        "hf-repo = org/in-a-script\n"
        "EOF\n"
        "'''\n")
    assert [(r.model.hf_repo, r.line, r.kind) for r in result.references] == [
        ("org/in-a-script", 4, "preset")]
    assert result.diagnostics == ()


def test_a_repo_not_spelled_out_in_the_source_is_on_the_strings_first_line(
    tmp_path: Path,
) -> None:
    """Written with an escape, no line of the source names the repo: the string's first line
    is given, even for the last statement of the file."""
    result = scan_test_file(tmp_path, "test_x.py", 'import os\nTEXT = ("[a]\\n"\n'
                            '        "hf-repo = org/\\x6dodel\\n")')
    assert [(r.model.hf_repo, r.line) for r in result.references] == [("org/model", 2)]
    assert result.diagnostics == ()
