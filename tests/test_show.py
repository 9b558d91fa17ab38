"""The one rendering place (`scanner/output/show.py`): an outcome in, what the user sees at the
end of the task (stdout, stderr, `--json`, the CI step summary) and the exit code out."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scanner.cli import commands
from scanner.cli.options import build_options
from scanner.fetch.jobs import FetchRun, FetchSettings
from scanner.fetch.llama import LlamaBinary, LlamaOutcome
from scanner.models import Diagnostic, HuggingFaceModel, ScanResult
from scanner.output import log
from scanner.output.outcomes import Fetched, Listed, LlamaFetched, Locked, Pruned, ServerTestsRun
from scanner.output.show import ShowAs, show
from scanner.scan.suite import scan_suite
from scanner.selection.network import NetworkNeed
from tests.helpers import suite_for

NO_SCAN = ScanResult(references=(), diagnostics=(), files_scanned=1)
WARNED = ScanResult(references=(), diagnostics=(Diagnostic(
    file="unit/test_a.py", line=3, severity="warning", message="cannot read model_hf_repo"),),
    files_scanned=1)
IMAGE_NEED = NetworkNeed("unit/test_vision.py", None, ("org/vision/cat.png",))
MODEL = HuggingFaceModel(hf_repo="org/name")


@pytest.fixture(autouse=True)
def _normal_verbosity() -> None:
    log.setup("normal")


def test_downloads_refused_for_want_of_space_say_so_once_and_fail(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "summary.md"
    settings = FetchSettings(cache=tmp_path / "hub", endpoint="http://127.0.0.1:9", token=None)
    run = FetchRun([], [], refused="no-space", needed_bytes=5000, free_bytes=4999)
    code = show(Fetched(NO_SCAN, None, [], settings, run, 0.5),
                ShowAs(env={"GITHUB_STEP_SUMMARY": str(summary)}))
    out, err = capsys.readouterr()
    assert code == 1
    assert err == (f"error: not enough free space in {tmp_path / 'hub'}: 5.0 kB to download, "
                   "5.0 kB free; nothing was downloaded\n")
    assert out == f"0 models: ; downloaded 0 B in 0.5 s; cache: {tmp_path / 'hub'}\n"
    assert summary.read_text().startswith("### models.fetch\n")


def test_a_fetch_that_ended_well_and_a_written_lock_exit_0(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = FetchSettings(cache=tmp_path / "hub", endpoint="http://127.0.0.1:9", token=None)
    assert show(Fetched(NO_SCAN, None, [], settings, FetchRun([], []), 0.5), ShowAs()) == 0
    path = tmp_path / "models.lock"
    assert show(Locked(path, "written", [], []), ShowAs()) == 0
    assert capsys.readouterr().out.endswith(f"wrote {path}: 0 models, 0 files\n")


def test_list_json_names_what_tests_fetch_and_strict_fails_on_diagnostics(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = show(Listed(WARNED, None, [IMAGE_NEED]), ShowAs(json=True, strict=True))
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["network_needs"] == [
        {"file": "unit/test_vision.py", "tests": None, "files": ["org/vision/cat.png"]}]
    assert [d["message"] for d in document["diagnostics"]] == ["cannot read model_hf_repo"]
    assert show(Listed(WARNED, None, []), ShowAs(json=True)) == 0


def test_a_stale_lock_prints_its_diff_on_stderr_and_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "models.lock"
    stale = Locked(path, "stale", [], [], check=True, diff=["--- on disk", "+++ now", "-old"])
    assert show(stale, ShowAs()) == 1
    assert capsys.readouterr().err == (f"{path} is stale: `fetch-test-models models.lock` would "
                                       "change it\n"
                                       "    --- on disk\n    +++ now\n    -old\n")
    assert show(Locked(path, "up to date", [], [], check=True, diff=[]), ShowAs()) == 0
    assert capsys.readouterr().out == f"{path} is up to date (0 files)\n"


def test_a_cache_that_cannot_be_read_is_one_error_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = show(Pruned(tmp_path, [], unreadable="[Errno 13] Permission denied"), ShowAs())
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err == f"error: cannot read the cache {tmp_path}: [Errno 13] Permission denied\n"


def test_llama_backend_failure_and_dry_run_document(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = LlamaBinary(path=tmp_path / "llama", kind="llama")
    command = (str(binary.path), "download", "-hf", "org/name")
    failed = LlamaOutcome(model=MODEL, ok=False, command=command, returncode=1, message="boom")
    assert show(LlamaFetched(NO_SCAN, None, binary, [MODEL], [failed]), ShowAs()) == 1
    assert capsys.readouterr().out.splitlines() == [
        "FAILED org/name: boom", f"    command: {binary.path} download -hf org/name",
        "    needed by: ", f"1 models: 0 fetched, 1 failed (llama.cpp: {binary.path})"]
    dry_run = LlamaFetched(NO_SCAN, None, binary, [MODEL], [], [command])
    assert show(dry_run, ShowAs(json=True)) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["dry_run"], document["models"][0]["command"]) == (True, list(command))


def test_server_tests_not_run_after_a_failed_fetch_exit_with_its_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    assert show(ServerTestsRun("pytest -v", fetch_code=1), ShowAs(env=env)) == 1
    assert summary.read_text() == "### test.server\n\n`pytest -v`: failed (exit 1)\n\n"
    interrupted = ServerTestsRun("pytest -v", pytest_code=2, interrupted=True)
    assert show(interrupted, ShowAs()) == 130
    assert capsys.readouterr().err == "interrupted: the tests stopped (pytest's summary above)\n"


def test_a_fetch_shows_the_network_needs_its_caller_computed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`test.server` and the pytest plugin compute what the tests fetch once, for the fetch's
    plan and for llama-server's offline switch."""
    root = suite_for(tmp_path / "project", "org/name")
    options = build_options({}, root=str(root), offline=True, dry_run=True)
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub")}
    commands.fetch_scan(options, env, scan_suite(root, options.scan, None), None, [IMAGE_NEED])
    assert ("network: unit/test_vision.py: fetches from the Hub at run time: org/vision/cat.png"
            in capsys.readouterr().out)
