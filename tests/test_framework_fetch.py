"""`models.fetch` in a project that loads models through frameworks (examples/offline-suite):
exactly the files its calls read reach the HF cache, and its tests then pass with
`HF_HUB_OFFLINE=1` while the fake Hub serves them nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import commands
from scanner.cli.options import build_options
from scanner.models import HuggingFaceModel, ModelReference, ScanResult
from scanner.selection.network import NetworkNeed, network_needs
from tests import hf_repos
from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import REPO_ROOT, invoke_command, run_fetch, write_suite

EXAMPLE = REPO_ROOT / "examples" / "offline-suite"
REPO = "example-org/tiny-causal"
#: AutoTokenizer's and AutoConfig's files, and the one hf_hub_download names
READ = {"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "chat_template.jinja", "additional_chat_templates/tool_use.jinja", "model.safetensors"}


def snapshot(cache: Path) -> set[str]:
    root = cache / f"models--{REPO.replace('/', '--')}" / "snapshots"
    (commit,) = root.iterdir()
    return {p.relative_to(commit).as_posix() for p in commit.rglob("*") if p.is_file()}


def test_fetch_then_the_suite_passes_offline_with_no_request(
    fake_hub: FakeHub, hub_env: Path
) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    fetched = subprocess.run(invoke_command("models.fetch", "--json"), cwd=EXAMPLE, env=env,
                             capture_output=True, text=True, timeout=240)
    assert fetched.returncode == 0, fetched.stdout[-3000:] + fetched.stderr[-3000:]
    models = {m["loader"]: m for m in json.loads(fetched.stdout)["models"]}
    assert {loader: m["status"] for loader, m in models.items()} == {
        "transformers": "downloaded", "hub_file": "downloaded"}
    assert snapshot(hub_env) == READ, "no pickle, ONNX, GGUF or original/ copy"
    commit = models["transformers"]["commit"]
    assert (hub_env / f"models--{REPO.replace('/', '--')}" / "refs" / "main").read_text() == commit
    no_exist = hub_env / f"models--{REPO.replace('/', '--')}" / ".no_exist" / commit
    assert (no_exist / "added_tokens.json").is_file(), "a miss cached as huggingface_hub does"

    fake_hub.reset_counts()
    tested = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                             "-p", "no:cacheprovider"], cwd=EXAMPLE,
                            env={**env, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True,
                            timeout=240)
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert "3 passed" in tested.stdout
    assert fake_hub.count() == 0, [r.path for r in fake_hub.requests]


def fetch_json(root: Path, capsys: pytest.CaptureFixture[str], **flags: object
               ) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_fetch(root, capsys, json=True, **flags)
    return code, {m["repo"]: m for m in json.loads(out)["models"]}


def loading(tmp_path: Path, model_class: str) -> Path:
    """A suite whose one test loads REPO with `model_class.from_pretrained`."""
    return write_suite(tmp_path / "proj", f"""
        from transformers import {model_class}

        def test_model():
            {model_class}.from_pretrained("{REPO}")
    """)

def test_a_model_reads_its_shard_index_first_then_only_the_shards_it_names(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo(shards=True))
    root = loading(tmp_path, "AutoModelForCausalLM")
    code, models = fetch_json(root, capsys)
    assert code == 0
    assert [f["path"] for f in models[REPO]["files"]] == [
        "config.json", "generation_config.json", "model.safetensors.index.json",
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert fake_hub.count(path_contains="model.safetensors.index.json") == 1, "fetched once"
    assert snapshot(hub_env) == {f["path"] for f in models[REPO]["files"]}

    fake_hub.reset_counts()  # warm: the index is read from the cache, nothing is downloaded
    code, models = fetch_json(root, capsys)
    assert code == 0 and models[REPO]["status"] == "cached"
    assert fake_hub.count(kind="resolve") == 0
    fake_hub.reset_counts()  # offline: the cached snapshot is the listing
    code, models = fetch_json(root, capsys, offline=True)
    assert code == 0 and models[REPO]["status"] == "cached"
    assert fake_hub.count() == 0


def test_a_model_its_rules_refuse_fails_with_the_repo_and_file_named(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add_repo(REPO, {"model.safetensors": hf_repos.safetensors_file(0, ["a"])})
    root = loading(tmp_path, "AutoModel")
    code, models = fetch_json(root, capsys)
    assert code == 1
    assert models[REPO]["status"] == "failed"
    assert models[REPO]["error"] == (
        f"{REPO} (transformers AutoModel): config.json is not in the repo "
        "(PretrainedConfig.from_pretrained)")


def test_a_dry_run_asks_for_no_file_and_says_which_one_the_plan_waits_for(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo(shards=True))
    root = loading(tmp_path, "AutoModel")
    code, models = fetch_json(root, capsys, dry_run=True)
    assert code == 0
    assert models[REPO]["status"] == "skipped"
    assert models[REPO]["note"] == (
        f"{REPO} model.safetensors.index.json: not fetched in a dry run, so the files it "
        "names are not planned")
    assert fake_hub.count(kind="resolve") == 0


def test_test_server_fetches_a_framework_suite_then_hands_its_tests_hf_hub_offline(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """After a complete fetch the tests' environment says HF_HUB_OFFLINE=1 and
    TRANSFORMERS_OFFLINE=1 (a server or interpreter they start reads them; huggingface_hub
    imported at collection has read them before), and the tests download no file themselves."""
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    root = write_suite(tmp_path / "proj", f"""
        import os
        from transformers import AutoTokenizer

        def test_tokenizer():
            assert os.environ.get("HF_HUB_OFFLINE") == "1"
            assert os.environ.get("TRANSFORMERS_OFFLINE") == "1", "older transformers' switch"
            assert os.environ.get("LLAMA_ARG_OFFLINE") == "1"
            assert AutoTokenizer.from_pretrained("{REPO}")("hello")["input_ids"] == [3]
    """, "test_suite.py")
    env = dict(os.environ, LLAMA_CACHE=str(tmp_path / "cache"), PYTEST_WORKERS="1",
               PYTHONWARNINGS="ignore")
    run = subprocess.run(invoke_command("test.server", "--", "-p", "no:cacheprovider"),
                         cwd=root, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "1 models: 1 downloaded" in run.stdout
    assert "1 passed" in run.stdout
    assert "they run offline (LLAMA_ARG_OFFLINE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1" in (
        run.stdout)
    tokenizer_files = {"config.json", "tokenizer.json", "tokenizer_config.json",
                       "special_tokens_map.json", "chat_template.jinja",
                       "additional_chat_templates/tool_use.jinja"}
    assert fake_hub.count(method="GET", kind="resolve") == len(tokenizer_files), "once each"


def test_the_lock_pins_a_framework_model_s_files_and_a_locked_fetch_brings_exactly_them(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A framework's model gets lines that name its loader (a GGUF's keep their six fields);
    `--locked` then fetches exactly the pinned commit's files, listing nothing, after main
    has moved to a layout the rules would read differently."""
    fake_hub.add_repo("ggml-org/models", {"tinyllamas/stories260K.gguf": GeneratedFile(1000)})
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo(shards=True))
    pinned = fake_hub.commit(REPO)
    root = write_suite(tmp_path / "proj", f"""
        from transformers import AutoModelForCausalLM

        def test_both(server):
            server.model_hf_repo = "ggml-org/models"
            server.model_hf_file = "tinyllamas/stories260K.gguf"
            AutoModelForCausalLM.from_pretrained("{REPO}")
    """)
    assert commands.lock_models(build_options({}, root=str(root))) == 0
    capsys.readouterr()
    rows = [line.split("\t") for line in
            (root / "tools/server/tests/models.lock").read_text().splitlines()[1:]]
    assert [len(row) for row in rows if row[0] == "ggml-org/models"] == [6]
    files = {"config.json", "generation_config.json", "model.safetensors.index.json",
             "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
    framework = [row for row in rows if row[0] == REPO]
    assert {row[3] for row in framework} == files
    assert {(row[2], row[6]) for row in framework} == {(f"{REPO}@{pinned}", "transformers")}

    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())  # main: one model.safetensors
    shutil.rmtree(hub_env)
    fake_hub.reset_counts()
    code, models = fetch_json(root, capsys, locked=True)
    assert code == 0
    assert (models[REPO]["status"], models[REPO]["commit"]) == ("downloaded", pinned)
    assert snapshot(hub_env) == files
    assert fake_hub.count(kind="tree") == fake_hub.count(kind="info") == 0, "nothing listed"


def test_a_framework_file_at_a_revision_stays_in_the_cache(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """URL files llama.cpp's tests read are placed in the suite; a framework's file, even at
    a named revision, is read from the HF cache only."""
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    root = write_suite(tmp_path / "proj", f"""
        from huggingface_hub import hf_hub_download

        def test_weights():
            hf_hub_download("{REPO}", "model.safetensors", revision="main")
    """)
    code, models = fetch_json(root, capsys, urls=True)
    assert code == 0
    assert models[REPO]["status"] == "downloaded"
    assert models[REPO]["placements"] == []
    assert not (root / "tools/server/tests/tmp/model.safetensors").exists()


def test_a_framework_model_is_a_network_need_only_when_the_fetch_does_not_bring_it() -> None:
    """The native fetch brings a framework's files; llama.cpp's downloader (`--backend llama`)
    does not, and then the tests fetch them themselves (no offline run is promised)."""
    model = HuggingFaceModel(hf_repo=REPO, loader="transformers")
    ref = ModelReference(model=model, file="tests/test_x.py", line=4, test="test_x",
                         kind="call", call="AutoTokenizer.from_pretrained")
    scan = ScanResult(references=(ref,), diagnostics=(), files_scanned=1)
    assert network_needs(scan, None, urls=False) == []
    assert network_needs(scan, None, urls=False, frameworks=False) == [
        NetworkNeed("tests/test_x.py", None, (REPO,))]


def test_pytest_fetch_models_brings_the_files_before_the_tests_which_then_download_none(
    fake_hub: FakeHub, hub_env: Path
) -> None:
    """The plugin in a project with no configuration. Its tests imported huggingface_hub at
    collection, before the fetch, so HF_HUB_OFFLINE comes too late for them (it is read at
    import): they may still ask the Hub about a file, but download none themselves."""
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p",
                          "no:cacheprovider", "--fetch-models"], cwd=EXAMPLE,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"}, capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "3 passed" in run.stdout
    assert "2 models: 2 downloaded" in run.stdout, "fetched before the tests"
    assert snapshot(hub_env) == READ
    assert fake_hub.count(method="GET", kind="resolve") == len(READ), "each file once"
    assert f"{REPO} (transformers)" in run.stdout and f"{REPO} (hub_file)" in run.stdout
