"""A warm run pays only for what it must check: what the last fetch resolved, still complete in
the cache at the commit it recorded, is taken without a request (`scanner/fetch/recorded.py`);
what is not (a file gone, a ref another client moved) is listed and fetched as before; a `main`
that moved on the Hub is found by `--latest`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner.cache import layout as hf_cache
from scanner.cli.options import build_options
from scanner.models import ScanResult
from scanner.scan import remembered
from tests.example_suite import copy_example, serve_example_repos
from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import llama_offline_lookup, run_fetch, suite_for, write_suite

REPO = "org/warm-GGUF"
MODEL = "warm-Q4_K_M.gguf"
OTHER = "org/other-GGUF"


@pytest.fixture
def warm(fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
         capsys: pytest.CaptureFixture[str]) -> Path:
    """A suite of two models, fetched once: the cache is warm."""
    fake_hub.add_repo(REPO, {MODEL: GeneratedFile(3000, 1), "README.md": b"v1"})
    fake_hub.add_repo(OTHER, {"other-Q8_0.gguf": GeneratedFile(2000, 2)})
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M", OTHER)
    assert run_fetch(root, capsys)[0] == 0
    fake_hub.reset_counts()
    return root


def test_a_file_gone_from_the_cache_is_found_and_fetched(
    fake_hub: FakeHub, hub_env: Path, warm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the model whose file is gone is listed again; the other asks nothing."""
    commit = hf_cache.read_ref(hub_env, REPO)
    assert commit
    blob = hf_cache.snapshot_path(hub_env, REPO, commit, MODEL).resolve()
    blob.unlink()
    code, out, _ = run_fetch(warm, capsys)
    assert code == 0, out
    assert "2 models: 1 cached, 1 downloaded" in out
    listed = {r.path for r in fake_hub.requests if r.kind in ("refs", "tree")}
    assert listed and all(REPO in path for path in listed), "the complete model is not listed"
    assert fake_hub.count("GET", "resolve") == 1
    assert llama_offline_lookup(hub_env, REPO, MODEL) == GeneratedFile(3000, 1).read()


def test_a_moved_main_is_kept_until_latest_asks_and_a_moved_ref_is_listed(
    fake_hub: FakeHub, hub_env: Path, warm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As Cargo keeps what its lock resolved: a warm run stays at the recorded commit with
    no request; `--latest` lists every repo and fetches the new `main`, and the next warm run
    is at the new commit. A ref another client moved does not match the record: listed."""
    old = hf_cache.read_ref(hub_env, REPO)
    new = fake_hub.add_repo(REPO, {MODEL: GeneratedFile(3100, 9), "README.md": b"v2"})
    code, out, _ = run_fetch(warm, capsys)
    assert code == 0 and "2 models: 2 cached" in out
    assert fake_hub.count() == 0 and hf_cache.read_ref(hub_env, REPO) == old
    code, out, _ = run_fetch(warm, capsys, latest=True)
    assert code == 0 and "2 models: 1 cached, 1 downloaded" in out
    assert fake_hub.count(kind="tree") == 2 and hf_cache.read_ref(hub_env, REPO) == new
    assert llama_offline_lookup(hub_env, REPO, MODEL) == GeneratedFile(3100, 9).read()
    fake_hub.reset_counts()
    assert run_fetch(warm, capsys)[0] == 0 and fake_hub.count() == 0, "recorded anew"
    assert old
    hf_cache.write_ref(hub_env, REPO, old)  # as another client on the cache would
    code, out, _ = run_fetch(warm, capsys)
    assert code == 0 and hf_cache.read_ref(hub_env, REPO) == new
    assert fake_hub.count(kind="tree") == 1, "the model whose ref moved, only"


def test_a_warm_fetch_does_not_load_the_hub_stack(
    fake_hub: FakeHub, hub_env: Path, warm: Path
) -> None:
    """huggingface_hub and httpx are a few tenths of a second of start-up: a run that asks
    the Hub nothing does not import them."""
    script = ("import sys\nfrom scanner.cli import commands\n"
              "from scanner.cli.options import build_options\n"
              f"code = commands.fetch_models(build_options({{}}, root={str(warm)!r}))\n"
              "print('exit', code, 'huggingface_hub' in sys.modules, 'httpx2' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", script], env=dict(os.environ),
                         capture_output=True, text=True, timeout=120)
    assert run.stdout.splitlines()[-1] == "exit 0 False False", run.stdout + run.stderr
    assert fake_hub.count() == 0


def test_warm_test_server_and_plugin_ask_the_hub_nothing(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """The everyday loop on llama.cpp's suite: once test.server has fetched, test.server and
    `pytest --fetch-models` make no request and run the tests."""
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "LLAMA_CACHE", "HF_HUB_CACHE"))}
    server = [sys.executable, "-m", "invoke", "-r", str(Path(__file__).parent.parent),
              "test.server", "--root", str(root), "--workers", "1", "--", "-p",
              "no:cacheprovider", "unit/test_basic.py"]
    plugin = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--fetch-models",
              "unit/test_basic.py"]
    requests = []
    for command, cwd in ((server, root), (server, root), (plugin, root / "tools/server/tests")):
        fake_hub.reset_counts()
        run = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "3 passed" in run.stdout
        requests.append(fake_hub.count())
    assert requests[0] > 0 and requests[1:] == [0, 0], "warm: not one request"


def test_a_kept_scan_is_used_until_a_file_it_read_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan of an unchanged suite is read from the cache; a test file changed, or a
    module under the root that a test imports, is scanned again."""
    root = write_suite(tmp_path / "p", """
        from myproj.models import DEFAULT

        def test_a():
            server.model_hf_repo = DEFAULT
    """)
    (root / "myproj").mkdir()
    (root / "myproj/models.py").write_text('DEFAULT = "org/first-GGUF"\n')
    store, scans = tmp_path / "cache/scans", []
    real = remembered.scan_suite

    def counted(*args: Any, **kwargs: Any) -> ScanResult:
        scans.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(remembered, "scan_suite", counted)
    config = build_options({}, root=str(root)).scan

    def repos() -> set[str]:
        return {m.repo for m in remembered.remembered_scan(root, config, None, store).models()}

    assert repos() == {"org/first-GGUF"} and len(scans) == 1
    assert repos() == {"org/first-GGUF"} and len(scans) == 1, "kept: not scanned again"
    (root / "myproj/models.py").write_text('DEFAULT = "org/second-GGUF"\n')
    assert repos() == {"org/second-GGUF"} and len(scans) == 2, "the imported module changed"
    test_file = root / "tools/server/tests/test_models.py"
    test_file.write_text(test_file.read_text() + 'def test_b():\n    s.model_hf_repo = "org/b"\n')
    assert repos() == {"org/second-GGUF", "org/b"} and len(scans) == 3
    assert repos() == {"org/second-GGUF", "org/b"} and len(scans) == 3
