"""The frameworks' own loaders succeed offline on exactly the files the rules plan.

Each test puts a tiny repo on the fake Hub, plans a call with `scanner.frameworks`, downloads
exactly the planned files into an empty cache, then runs the real library call in a subprocess
with `HF_HUB_OFFLINE=1` (huggingface_hub reads it at import): the call succeeds, the fake Hub
served nothing during that phase, and the cache holds no decoy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download

from scanner.cache.layout import repo_folder
from scanner.frameworks import FilePlan, plan_files
from scanner.hub.client import HubClient
from scanner.models import LoadCall, Loader, RepoFile
from tests import hf_repos
from tests.fakehub import FakeHub, user_settings, write_harnesses

REPO = "org/tiny"


def fetch(hub: FakeHub, cache: Path, call: LoadCall) -> FilePlan:
    """Plan `call` from the fake Hub's listing, then download exactly the planned files."""
    listing, problems = HubClient(hub.url, None, cache).listing(call.repo)
    assert problems == []

    def download(file: RepoFile) -> str:
        return hf_hub_download(call.repo, file.path, endpoint=hub.url, cache_dir=cache)

    plan = plan_files(call, listing, lambda f: Path(download(f)).read_bytes())
    for path in plan.repo_files():
        download(path)
    for missing in plan.absent:  # what huggingface_hub writes when the Hub answers 404
        marker = repo_folder(cache, call.repo) / ".no_exist" / plan.commit / missing
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    return plan


def cached(cache: Path, repo: str = REPO) -> set[str]:
    """Every file path in the repo's snapshot(s) in the cache."""
    root = cache / f"models--{repo.replace('/', '--')}" / "snapshots"
    return {p.relative_to(next(root.iterdir())).as_posix()
            for p in root.rglob("*") if p.is_file() or p.is_symlink()}  # fmt: skip


def run_offline(hub: FakeHub, cache: Path, tmp_path: Path, script: str) -> str:
    """`script` in a fresh interpreter, offline, on `cache`; returns its stdout. The fake Hub
    keeps listening, so that any request it gets counts against the test."""
    hub.reset_counts()
    home = tmp_path / "offline-home"
    write_harnesses(home)
    env = {k: v for k, v in os.environ.items() if k not in user_settings(os.environ)}
    env.update(HF_HOME=str(home), HF_HUB_CACHE=str(cache), HF_ENDPOINT=hub.url,
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env,
                          capture_output=True, text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert hub.count() == 0, [r.path for r in hub.requests]
    return done.stdout


def test_auto_tokenizer_offline_on_its_planned_files(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    cache = tmp_path / "cache"
    plan = fetch(fake_hub, cache, LoadCall(loader="transformers", repo=REPO,
                                           class_name="AutoTokenizer"))
    assert not any(p.endswith((".safetensors", ".bin", ".gguf", ".onnx")) for p in plan.paths())
    assert cached(cache) == set(plan.paths())
    out = run_offline(fake_hub, cache, tmp_path, f"""
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained({REPO!r})
        print(tok("hello world tiny")["input_ids"])
        print(sorted(tok.chat_template) if isinstance(tok.chat_template, dict) else "single")
    """)
    assert out.splitlines() == ["[3, 4, 5]", "['default', 'tool_use']"]


def test_auto_tokenizer_in_a_subfolder(fake_hub: FakeHub, tmp_path: Path) -> None:
    files = hf_repos.tokenizer_files("tokenizer/") | hf_repos.tokenizer_files("tokenizer_2/")
    hf_repos.add(fake_hub, REPO, files | hf_repos.DECOYS)
    cache = tmp_path / "cache"
    call = LoadCall(loader="transformers", repo=REPO, class_name="AutoTokenizer",
                    subfolder="tokenizer")
    plan = fetch(fake_hub, cache, call)
    assert plan.paths() and all(p.startswith("tokenizer/") for p in plan.paths())
    out = run_offline(fake_hub, cache, tmp_path, f"""
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained({REPO!r}, subfolder="tokenizer")
        print(tok.convert_ids_to_tokens([6]))
    """)
    assert out.strip() == "['model']"


def test_auto_config_reads_only_the_config(fake_hub: FakeHub, tmp_path: Path) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    cache = tmp_path / "cache"
    plan = fetch(fake_hub, cache, LoadCall(loader="transformers", repo=REPO,
                                           class_name="AutoConfig"))
    assert plan.paths() == ["config.json"]
    out = run_offline(fake_hub, cache, tmp_path, f"""
        from transformers import AutoConfig
        print(AutoConfig.from_pretrained({REPO!r}).n_layer)
    """)
    assert out.strip() == "2"


#: The steps of `_get_resolved_checkpoint_files` for safetensors, offline, with transformers'
#: own functions (its module imports torch; `utils.hub` does not), loaded with numpy alone.
LOAD_WEIGHTS = f"""
    from safetensors.numpy import load_file
    from transformers.utils import cached_file
    from transformers.utils.hub import get_checkpoint_shard_files
    single = cached_file({REPO!r}, "model.safetensors", _raise_exceptions_for_missing_entries=False)
    if single:
        files = [single]
    else:
        index = cached_file({REPO!r}, "model.safetensors.index.json")
        files, _ = get_checkpoint_shard_files({REPO!r}, index)
    print(sorted(name for path in files for name in load_file(path)))
"""


@pytest.mark.parametrize("shards", [False, True], ids=["single", "sharded"])
def test_model_weights_are_those_transformers_resolves_offline(
    fake_hub: FakeHub, tmp_path: Path, shards: bool
) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo(shards=shards))
    cache = tmp_path / "cache"
    call = LoadCall(loader="transformers", repo=REPO, class_name="AutoModelForCausalLM")
    plan = fetch(fake_hub, cache, call)
    decoys = set(hf_repos.DECOYS) | {"model-00001-of-00003.safetensors"}
    assert cached(cache) == set(plan.paths()) and not decoys & cached(cache)
    out = run_offline(fake_hub, cache, tmp_path, LOAD_WEIGHTS)
    assert out.strip() == str(["a", "b", "c"] if shards else ["a", "b"])


def test_hf_hub_download_of_a_file_in_a_subfolder(fake_hub: FakeHub, tmp_path: Path) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    cache = tmp_path / "cache"
    call = LoadCall(loader="hub_file", repo=REPO, filename="model.onnx", subfolder="onnx")
    assert fetch(fake_hub, cache, call).paths() == ["onnx/model.onnx"]
    out = run_offline(fake_hub, cache, tmp_path, f"""
        from huggingface_hub import hf_hub_download
        print(open(hf_hub_download({REPO!r}, "model.onnx", subfolder="onnx"), "rb").read()[:4])
    """)
    assert out.strip() == "b'onnx'"


def test_snapshot_download_with_its_patterns(fake_hub: FakeHub, tmp_path: Path) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    cache = tmp_path / "cache"
    allow, ignore = ("*.json", "*.safetensors"), ("original/*",)
    call = LoadCall(loader="hub_snapshot", repo=REPO, allow_patterns=allow,
                    ignore_patterns=ignore)
    plan = fetch(fake_hub, cache, call)
    assert "original/params.json" not in plan.paths() and "model.safetensors" in plan.paths()
    assert "additional_chat_templates/tool_use.jinja" not in plan.paths()
    out = run_offline(fake_hub, cache, tmp_path, f"""
        import os
        from huggingface_hub import snapshot_download
        root = snapshot_download({REPO!r}, allow_patterns={list(allow)!r},
                                 ignore_patterns={list(ignore)!r})
        print(sorted(os.listdir(root)))
    """)
    assert out.strip() == str(sorted(p for p in plan.paths() if "/" not in p))


@pytest.mark.parametrize(("loader", "class_name"), [
    ("transformers", "pipeline"), ("server", None), ("unknown", None),
])  # fmt: skip
def test_broad_plans_load_tokenizer_config_and_weights_offline(
    fake_hub: FakeHub, tmp_path: Path, loader: Loader, class_name: str | None
) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo(shards=True))
    cache = tmp_path / "cache"
    plan = fetch(fake_hub, cache, LoadCall(loader=loader, repo=REPO, class_name=class_name))
    decoys = set(hf_repos.DECOYS) | {"model-00001-of-00003.safetensors"}
    assert cached(cache) == set(plan.paths()) and not decoys & cached(cache)
    out = run_offline(fake_hub, cache, tmp_path, LOAD_WEIGHTS + f"""
    from transformers import AutoConfig, AutoTokenizer
    print(AutoConfig.from_pretrained({REPO!r}).n_layer)
    print(AutoTokenizer.from_pretrained({REPO!r})("world")["input_ids"])
    """)
    assert out.splitlines() == ["['a', 'b', 'c']", "2", "[4]"]
