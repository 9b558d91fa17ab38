"""`models.fetch` against a fake Hub on 127.0.0.1, with the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from scanner.fetch import run as fetch_run
from tests.fakehub import FakeHub, Fault, GeneratedFile
from tests.helpers import (
    invoke_command,
    llama_offline_lookup,
    llama_snapshot,
    run_fetch,
    suite_for,
    write_suite,
)

SUITE = '''
import pytest

@pytest.mark.parametrize("hf_repo,hf_file", [
    ("ggml-org/models", "tinyllamas/stories260K.gguf"),
    ("ggml-org/models", "split/stories15M-q8_0-00001-of-00003.gguf"),
])
def test_param(hf_repo, hf_file): ...

def test_tag():
    server.model_hf_repo = "ggml-org/gemma-GGUF:Q8_0"

def test_default_tag():
    server.model_hf_repo = "bartowski/Qwen3-GGUF"

def test_preset():
    server.model_hf_repo = "ggml-org/preset-repo"
'''


def add_repos(hub: FakeHub) -> None:
    hub.add_repo("ggml-org/models", {
        "tinyllamas/stories260K.gguf": GeneratedFile(260_000, 1),
        "split/stories15M-q8_0-00001-of-00003.gguf": GeneratedFile(30_000, 2),
        "split/stories15M-q8_0-00002-of-00003.gguf": GeneratedFile(30_000, 3),
        "split/stories15M-q8_0-00003-of-00003.gguf": GeneratedFile(20_000, 4),
        "README.md": b"# models\n",
    })
    hub.add_repo("ggml-org/gemma-GGUF", {
        "gemma-Q4_K_M.gguf": GeneratedFile(40_000, 5),
        "gemma-Q8_0.gguf": GeneratedFile(50_000, 6),
        "mmproj-gemma-f16.gguf": GeneratedFile(10_000, 7),
        "mmproj-gemma-Q8_0.gguf": GeneratedFile(8_000, 8),
    })
    hub.add_repo("bartowski/Qwen3-GGUF", {
        "Qwen3-IQ3_XXS.gguf": GeneratedFile(15_000, 9),
        "Qwen3-Q4_K_M.gguf": GeneratedFile(25_000, 10),
        "Qwen3-Q8_0.gguf": GeneratedFile(35_000, 11),
        "imatrix.gguf": GeneratedFile(1_000, 12),
    })
    hub.add_repo("ggml-org/preset-repo", {
        "preset.ini": b"[model]\nhf-repo = ggml-org/gemma-GGUF\n",
        "nested/m-Q4_K_M.gguf": GeneratedFile(5_000, 13),
    })


EXPECTED = {
    ("ggml-org/models", "tinyllamas/stories260K.gguf"),
    ("ggml-org/models", "split/stories15M-q8_0-00001-of-00003.gguf"),
    ("ggml-org/models", "split/stories15M-q8_0-00002-of-00003.gguf"),
    ("ggml-org/models", "split/stories15M-q8_0-00003-of-00003.gguf"),
    ("ggml-org/gemma-GGUF", "gemma-Q8_0.gguf"),
    ("ggml-org/gemma-GGUF", "mmproj-gemma-Q8_0.gguf"),
    ("bartowski/Qwen3-GGUF", "Qwen3-Q4_K_M.gguf"),
    ("ggml-org/preset-repo", "preset.ini"),
    ("ggml-org/gemma-GGUF", "gemma-Q4_K_M.gguf"),  # the model the preset names
}


@pytest.fixture
def fetched_root(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A project on SUITE whose models one successful fetch has already put in the cache."""
    add_repos(fake_hub)
    root = write_suite(tmp_path / "proj", SUITE)
    assert run_fetch(root, capsys)[0] == 0
    return root


def test_fetch_puts_every_resolved_file_where_llama_cpp_looks(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_repos(fake_hub)
    code, out, _ = run_fetch(write_suite(tmp_path / "proj", SUITE), capsys)
    assert code == 0, out
    for repo, path in EXPECTED:
        link = llama_snapshot(hub_env, repo, path)
        assert link is not None, f"{repo}/{path} not found by llama.cpp's offline lookup"
        assert link.read_bytes() == fake_hub.content(repo, path)
        assert fake_hub.commit(repo) in link.parts, "refs/main is not the Hub's commit"
        if path.endswith(".gguf"):
            blob = link.resolve()
            assert blob.name == fake_hub.sha256(repo, path), "LFS blobs are named by sha256"
    downloaded = {" ".join(line.split()[1:3]) for line in out.splitlines()
                  if line.startswith("downloaded")}
    assert downloaded == {f"{repo} {path}" for repo, path in EXPECTED}
    assert fake_hub.count("GET", "resolve") == len(EXPECTED)
    assert "6 models: 6 downloaded" in out.splitlines()[-1]


def test_warm_rerun_downloads_nothing(
    fake_hub: FakeHub, fetched_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the last fetch resolved is complete in the cache at the commit it recorded: no
    request at all, presets followed from the cache; `--latest` lists every repo again."""
    fake_hub.reset_counts()
    code, out, _ = run_fetch(fetched_root, capsys)
    assert code == 0
    assert fake_hub.count() == 0, "a warm run asks the Hub nothing"
    assert "6 models: 6 cached; downloaded 0 B" in out
    code, out, _ = run_fetch(fetched_root, capsys, latest=True)
    assert code == 0 and "6 models: 6 cached; downloaded 0 B" in out
    assert fake_hub.count(kind="resolve") == 0, "nothing to download"
    assert fake_hub.count(kind="refs") == 4 and fake_hub.count(kind="tree") == 4


def test_offline_with_the_hub_stopped_reports_present_and_missing(
    fake_hub: FakeHub, fetched_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.stop()
    code, out, _ = run_fetch(fetched_root, capsys, offline=True)
    assert code == 0 and "6 models: 6 cached" in out
    (fetched_root / "tools/server/tests/test_more.py").write_text(
        "def test_x():\n    s.model_hf_repo = 'ggml-org/never-fetched'\n")
    code, out, _ = run_fetch(fetched_root, capsys, offline=True, json=True)
    assert code == 1
    statuses = {m["hf_repo"]: m["status"] for m in json.loads(out)["models"]}
    assert statuses["ggml-org/never-fetched"] == "missing"
    assert statuses["ggml-org/gemma-GGUF:Q8_0"] == "cached"


def test_offline_dry_run_reports_as_offline_does(
    fake_hub: FakeHub, hub_env: Path, fetched_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lost split part, a corrupted blob (`--verify`) and a model never fetched: both runs
    call all three missing, say why, and exit 1."""
    fake_hub.stop()
    snapshot = hub_env / "models--ggml-org--models" / "snapshots" / fake_hub.commit(
        "ggml-org/models")
    (snapshot / "split/stories15M-q8_0-00002-of-00003.gguf").unlink()
    gemma = hub_env / "models--ggml-org--gemma-GGUF" / "blobs" / fake_hub.sha256(
        "ggml-org/gemma-GGUF", "gemma-Q8_0.gguf")
    gemma.write_bytes(b"\0" * gemma.stat().st_size)
    (fetched_root / "tools/server/tests/test_more.py").write_text(
        "def test_x():\n    s.model_hf_repo = 'ggml-org/never-fetched'\n")
    reports = []
    for flags in ({}, {"dry_run": True}):
        code, out, _ = run_fetch(fetched_root, capsys, offline=True, verify=True, json=True,
                                 **flags)
        models = {m["hf_repo"] + " " + str(m["hf_file"]): m for m in json.loads(out)["models"]}
        reports.append((code, {key: (m["status"], m["error"]) for key, m in models.items()}))
        split = models["ggml-org/models split/stories15M-q8_0-00001-of-00003.gguf"]
        assert split["status"] == "missing" and "missing part(s) 00002" in split["error"]
        assert models["ggml-org/gemma-GGUF:Q8_0 None"]["status"] == "missing"
        never = models["ggml-org/never-fetched None"]
        assert never["status"] == "missing" and never["note"] is None
        assert gemma.exists(), "offline, a mismatching blob is reported, never deleted"
    assert reports[0] == reports[1]
    assert reports[0][0] == 1


def test_dry_run_plans_without_downloading(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_repos(fake_hub)
    code, out, _ = run_fetch(write_suite(tmp_path / "proj", SUITE), capsys, dry_run=True)
    assert code == 0
    assert fake_hub.count(kind="resolve") == 0
    assert "to download: 8 files, 423.0 kB; already cached: 0 files, 0 B" in out
    assert not hub_env.exists() or not any(hub_env.rglob("*.gguf"))


def test_no_mmproj_and_url_files_unless_switched_off(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A GGUF named by a URL is fetched by default (`--no-urls` skips it); a URL to any other
    file (a README, an image) is the tests' to fetch at run time, never the tool's."""
    add_repos(fake_hub)
    readme = f"{fake_hub.url}/ggml-org/models/resolve/main/README.md"
    gguf = f"{fake_hub.url}/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf"
    root = write_suite(tmp_path / "proj", f"""
        URL = "{readme}"
        GGUF = "{gguf}"
        def test_tag():
            server.model_hf_repo = "ggml-org/gemma-GGUF:Q8_0"
    """)
    code, out, _ = run_fetch(root, capsys, mmproj=False, urls=False, json=True)
    models = {m["hf_file"] or m["hf_repo"]: m for m in json.loads(out)["models"]}
    assert code == 0
    assert [f["path"] for f in models["ggml-org/gemma-GGUF:Q8_0"]["files"]] == ["gemma-Q8_0.gguf"]
    assert models["tinyllamas/stories260K.gguf"]["status"] == "skipped"
    code, out, _ = run_fetch(root, capsys, json=True)
    models = {m["hf_file"] or m["hf_repo"]: m for m in json.loads(out)["models"]}
    assert models["tinyllamas/stories260K.gguf"]["status"] == "downloaded"
    assert (models["README.md"]["status"], models["README.md"]["note"]) == (
        "skipped", "not a model file: the test fetches it from the Hub at run time (needs the "
                   "network)")
    assert fake_hub.count("GET", "resolve", "README.md") == 0


def test_missing_tag_lists_the_repo_ggufs_and_every_model_is_attempted(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_repos(fake_hub)
    fake_hub.add_repo("org/gated", {"g-Q4_K_M.gguf": b"x" * 10}, gated=True)
    root = write_suite(tmp_path / "proj", """
        def test_a():
            a.model_hf_repo = "ggml-org/gemma-GGUF:Q2_K"
            b.model_hf_repo = "ggml-org/does-not-exist"
            c.model_hf_repo = "ggml-org/models"
            c.model_hf_file = "no/such-file.gguf"
            d.model_hf_repo = "org/gated"
            e.model_hf_repo = "bartowski/Qwen3-GGUF"
    """)
    code, out, _ = run_fetch(root, capsys)
    assert code == 1
    assert llama_offline_lookup(hub_env, "bartowski/Qwen3-GGUF", "Qwen3-Q4_K_M.gguf")
    failures = out[out.index("FAILED"):]
    assert "gemma-Q4_K_M.gguf" in failures and "gemma-Q8_0.gguf" in failures
    assert "ggml-org/does-not-exist: repository not found" in failures
    assert "no/such-file.gguf" in failures
    assert "gated or private: set HF_TOKEN" in failures
    assert "needed by: tools/server/tests/test_models.py:3 (test_a)" in failures
    assert "5 models: 1 downloaded, 4 failed" in out


def test_verify_rehashes_cached_files(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_repos(fake_hub)
    root = suite_for(tmp_path / "proj", "bartowski/Qwen3-GGUF")
    assert run_fetch(root, capsys)[0] == 0
    sha = fake_hub.sha256("bartowski/Qwen3-GGUF", "Qwen3-Q4_K_M.gguf")
    blob = hub_env / "models--bartowski--Qwen3-GGUF" / "blobs" / sha
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))
    fake_hub.reset_counts()
    assert run_fetch(root, capsys)[0] == 0
    assert fake_hub.count("GET", "resolve") == 0, "without --verify, size is trusted"
    code, _, _ = run_fetch(root, capsys, verify=True)
    assert code == 0 and fake_hub.count("GET", "resolve") == 1
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == sha


def test_unreachable_hub_uses_a_complete_cached_snapshot(
    fake_hub: FakeHub, fetched_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add_fault("/api/models/", Fault("status", code=429), times=None)
    code, out, _ = run_fetch(fetched_root, capsys, latest=True)
    assert code == 0, out
    assert "Hub unavailable, using the cached snapshot (set HF_TOKEN" in out
    fake_hub.stop()
    (fetched_root / "tools/server/tests/test_more.py").write_text(
        "def test_x():\n    s.model_hf_repo = 'ggml-org/not-cached'\n")
    code, out, _ = run_fetch(fetched_root, capsys, latest=True)
    assert code == 1
    assert "ggml-org/not-cached: cannot reach the Hub" in out
    assert "5 models: 5 cached" not in out and "1 failed" in out


def test_not_enough_space_refuses_before_downloading(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_repos(fake_hub)
    monkeypatch.setattr(fetch_run, "free_space", lambda path: 1000)
    code, _, err = run_fetch(write_suite(tmp_path / "proj", SUITE), capsys)
    assert code == 1
    assert f"not enough free space in {hub_env}: 463.0 kB to download, 1.0 kB free" in err
    assert fake_hub.count(kind="resolve") == 1, "the preset only (47 bytes), to plan its model"


def test_token_is_sent_but_never_printed(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_hub.add_repo("org/gated", {"g-Q4_K_M.gguf": b"x" * 10}, gated=True)
    root = suite_for(tmp_path / "proj", "org/gated")
    monkeypatch.setenv("HF_TOKEN", "hf_wrongwrongwrongwrong")
    code, out, err = run_fetch(root, capsys)
    assert code == 1 and "the token in HF_TOKEN has no access" in out
    assert "hf_wrongwrongwrongwrong" not in out + err
    monkeypatch.setenv("HF_TOKEN", fake_hub.valid_token)
    code, out, err = run_fetch(root, capsys, json=True)
    assert code == 0 and fake_hub.valid_token not in out + err


def test_invoke_task_end_to_end_with_environment(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """As a user runs it: `invoke -r <this repo> models.fetch` from the project, env only."""
    add_repos(fake_hub)
    root = write_suite(tmp_path / "proj", SUITE)
    cache = tmp_path / "llama-cache"
    env = dict(os.environ, LLAMA_CACHE=str(cache))
    run = subprocess.run(invoke_command("models.fetch", "--json"), cwd=root, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["cache_dir"] == str(cache) and document["ok"] is True
    assert {(m["repo"], f["path"]) for m in document["models"] for f in m["files"]} == EXPECTED
    assert all(llama_offline_lookup(cache, repo, path) for repo, path in EXPECTED)


def test_verify_in_a_dry_run_or_offline_reports_but_never_deletes(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_repos(fake_hub)
    root = suite_for(tmp_path / "proj", "bartowski/Qwen3-GGUF")
    assert run_fetch(root, capsys)[0] == 0
    blob = hub_env / "models--bartowski--Qwen3-GGUF" / "blobs" / fake_hub.sha256(
        "bartowski/Qwen3-GGUF", "Qwen3-Q4_K_M.gguf")
    blob.write_bytes(b"\0" * blob.stat().st_size)
    code, out, _ = run_fetch(root, capsys, verify=True, dry_run=True)
    assert code == 0 and blob.exists()
    assert "Qwen3-Q4_K_M.gguf: cached copy content does not match the Hub's sha256" in out
    code, out, _ = run_fetch(root, capsys, verify=True, offline=True)
    assert code == 1 and blob.exists()
    assert "MISSING bartowski/Qwen3-GGUF" in out
