"""URL files where the suite reads them: the example suite's `download_file` (whose stand-in
for wget fails the test if it is ever called) finds the LoRA and the draft model in `tmp/`,
linked into the cache, after one fetch; offline, with the fake Hub stopped."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import commands
from scanner.cli.options import build_options
from scanner.prune.unneeded import BUSY_SECONDS
from tests.example_suite import copy_example, fetch_json, run_task, serve_example_repos
from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import run_fetch, write_suite

SUITE = "tools/server/tests"
LORA = "tmp/moe_shakespeare15M.gguf"
DRAFT = "tmp/stories15M-q4_0.gguf"
NOT_SLOW = ["-m", "not slow"]


def placements(document: dict[str, Any]) -> dict[str, str]:
    return {p["path"]: p["status"] for m in document["models"] for p in m["placements"]}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_url_files_are_linked_where_download_file_looks_then_the_tests_pass_offline(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    root, cache = copy_example(tmp_path), tmp_path / "cache"
    fetch = run_task(root, cache, "models.fetch", "--", *NOT_SLOW)
    assert fetch.returncode == 0, fetch.stdout + fetch.stderr
    suite = root / SUITE
    assert f"-> {LORA}" in fetch.stdout and f"-> {DRAFT}" in fetch.stdout, "in the plan"
    summary = f"URL files in {suite}: tmp/ggml-model-f16.gguf, {LORA}, {DRAFT}\n"
    assert summary in fetch.stdout
    for placed, repo, path in ((LORA, "ggml-org/stories15M_MOE", "moe_shakespeare15M.gguf"),
                               (DRAFT, "ggml-org/tiny-llamas", "stories15M-q4_0.gguf")):
        link = suite / placed
        assert link.is_symlink() and Path(os.path.realpath(link)).parent.name == "blobs"
        assert sha256(link) == fake_hub.sha256(repo, path)

    fake_hub.stop()  # no network from here on
    run = run_task(root, cache, "test.server", "--offline", "--no-fetch", "--", "unit/test_lora.py",
                   "unit/test_speculative.py", "-p", "no:cacheprovider")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed, 1 skipped" in run.stdout


def test_a_second_fetch_asks_for_no_file_and_finds_the_files_placed(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    first = fetch_json(root, capsys, *NOT_SLOW)
    embedding = "tmp/ggml-model-f16.gguf"  # a model URL too (llama-server's -mu)
    assert placements(first) == {LORA: "linked", DRAFT: "linked", embedding: "linked"}
    fake_hub.reset_counts()
    second = fetch_json(root, capsys, *NOT_SLOW)
    assert placements(second) == {LORA: "present", DRAFT: "present", embedding: "present"}
    assert fake_hub.count("GET", "resolve") == 0


def test_another_file_at_the_destination_is_left_alone_and_reported(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    mine = root / SUITE / LORA
    mine.parent.mkdir()
    mine.write_bytes(b"a LoRA of my own")
    options = build_options({}, root=str(root), selection=["unit/test_lora.py"])
    assert commands.fetch_models(options, dict(os.environ)) == 0
    out = capsys.readouterr().out
    assert (f"warning: {mine} holds another file than ggml-org/stories15M_MOE "
            "moe_shakespeare15M.gguf: left alone (remove it to have the fetched file placed)"
            ) in out
    assert mine.read_bytes() == b"a LoRA of my own"
    identical = fake_hub.content("ggml-org/stories15M_MOE", "moe_shakespeare15M.gguf")
    mine.write_bytes(identical)  # as the suite's own download left it: the same bytes
    document = fetch_json(root, capsys, "unit/test_lora.py")
    assert placements(document) == {LORA: "present"}
    assert not mine.is_symlink()


def test_no_urls_leaves_url_files_to_the_tests(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    document = fetch_json(root, capsys, "unit/test_lora.py", urls=False)
    lora = [m for m in document["models"] if m["revision"]]
    assert [(m["status"], m["note"]) for m in lora] == [
        ("skipped", "URL reference: not fetched (--no-urls or models.urls false)")]
    assert not (root / SUITE / LORA).exists()
    assert not any("moe_shakespeare" in r.path for r in fake_hub.requests)


def test_offline_places_from_the_cache_and_says_what_is_missing(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    fetch_json(root, capsys, "unit/test_lora.py")
    (root / SUITE / LORA).unlink()
    fake_hub.stop()
    document = fetch_json(root, capsys, "unit/test_lora.py", offline=True)
    assert placements(document) == {LORA: "linked"}, "no network needed to link"
    cold = tmp_path / "cold"
    os.environ["LLAMA_CACHE"] = str(cold)
    try:
        (root / SUITE / LORA).unlink()
        missing = fetch_json(root, capsys, "unit/test_lora.py", code=1, offline=True)
    finally:
        del os.environ["LLAMA_CACHE"]
    lora = next(m for m in missing["models"] if m["revision"])
    assert lora["status"] == "missing" and lora["placements"] == []
    assert not (root / SUITE / LORA).exists()


def test_prune_keeps_the_blob_a_placed_url_file_links_to(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The LoRA's commit is no ref's once `main` moved and only another model of its repo was
    fetched again; its blob is still what `tmp/` links to."""
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    fetch_json(root, capsys, "unit/test_lora.py", "unit/test_speculative.py")
    fake_hub.add_repo("ggml-org/stories15M_MOE", {
        "stories15M_MOE-F16.gguf": GeneratedFile(851), "moe_shakespeare15M.gguf": GeneratedFile(650)
    } | {"README.md": b"moved"})
    fetch_json(root, capsys, "unit/test_speculative.py")
    old = time.time() - BUSY_SECONDS - 60
    for snapshot in (hub_env / "models--ggml-org--stories15M_MOE/snapshots").iterdir():
        for entry in [*snapshot.rglob("*"), snapshot]:
            os.utime(entry, (old, old), follow_symlinks=False)
    options = build_options({}, root=str(root))
    assert commands.prune_models(options, dict(os.environ), yes=True) == 0
    assert "removed" in capsys.readouterr().out
    link = root / SUITE / LORA
    assert link.exists(), "the placed file's blob was kept"
    assert sha256(link) == fake_hub.sha256("ggml-org/stories15M_MOE", "moe_shakespeare15M.gguf")


# -- what still needs the network, said before the run ------------------------------------------

VISION = "tools/server/tests/unit/test_vision_api.py"
IMAGE = "ggml-org/tinygemma3-GGUF/test/11_truck.png"


def test_the_tests_that_fetch_from_the_hub_are_named_before_an_offline_run(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    run = run_task(copy_example(tmp_path), tmp_path / "cache", "test.server", "--offline",
                   "--workers", "1")
    assert run.returncode == 0, run.stdout + run.stderr
    line = f"network: {VISION}: 2 selected test(s) may fetch from the Hub at run time: {IMAGE}\n"
    note = "note: the tests run offline: those that fetch from the Hub will fail\n"
    assert line + note in run.stdout
    assert run.stdout.index(note) < run.stdout.index("PASSED"), "said before the tests"
    assert fake_hub.count("GET", "resolve", "11_truck.png") == 0, "the image is the tests'"
    assert "test/11_truck.png: not a model file: the test fetches it from the Hub at run time" \
        in run.stdout, "the plan names the file set aside"


def test_network_needs_in_json_count_the_selected_tests(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    document = fetch_json(root, capsys, "unit/test_vision_api.py", "-k", "local")
    assert document["network_needs"] == [{"file": VISION, "tests": 1, "files": [IMAGE]}]
    off = fetch_json(root, capsys, "unit/test_lora.py", urls=False)
    assert off["network_needs"] == [{"file": "tools/server/tests/unit/test_lora.py", "tests": 1,
                                     "files": ["ggml-org/stories15M_MOE/moe_shakespeare15M.gguf"]}]
    options = build_options({}, root=str(root), json=True, dry_run=True)  # no selection
    assert commands.fetch_models(options, dict(os.environ)) == 0
    whole = json.loads(capsys.readouterr().out)
    assert whole["network_needs"] == [{"file": VISION, "tests": None, "files": [IMAGE]}]


def test_two_url_files_with_one_name_are_refused_before_any_request(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """download_file names a URL's file by its last part: two URLs ending in one name would
    both be "placed" at one path, the link flipping from run to run. Refused, both named."""
    fake_hub.add_repo("org/a", {"sub/model.gguf": GeneratedFile(1_000, 1)})
    fake_hub.add_repo("org/b", {"model.gguf": GeneratedFile(1_000, 2)})
    root = write_suite(tmp_path / "p", """
        def test_a():
            download_file("https://huggingface.co/org/a/resolve/main/sub/model.gguf")

        def test_b():
            download_file("https://huggingface.co/org/b/resolve/main/model.gguf")
        """)
    code, _, err = run_fetch(root, capsys)
    assert code == 2
    suite = root / SUITE
    assert (f"error: 2 URL files would be placed at {suite}/tmp/model.gguf, where the suite "
            "reads each of them") in err
    assert "org/a/resolve/main/sub/model.gguf (tools/server/tests/test_models.py:3)" in err
    assert "org/b/resolve/main/model.gguf (tools/server/tests/test_models.py:6)" in err
    assert fake_hub.requests == [] and not os.path.lexists(suite / "tmp/model.gguf")
    code, _, _ = run_fetch(root, capsys, urls=False)
    assert code == 0, "--no-urls leaves them to the tests"
