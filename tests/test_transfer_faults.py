"""What a failing transfer says and leaves: a file whose content does not match, a file whose
responses stall mid-file at every attempt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scanner.fetch.jobs import FileStatus
from tests.downloads import MODEL, REPO, assert_identical, download_one, partials
from tests.fakehub import FakeHub, Fault, GeneratedFile
from tests.helpers import run_fetch, suite_for


def add_models(hub_: FakeHub) -> None:
    hub_.add_repo(REPO, {MODEL: GeneratedFile(3_000_000, 21),
                         "m-Q8_0.gguf": GeneratedFile(50_000, 22)})


def test_bytes_that_do_not_match_the_hubs_sha256_are_named_and_removed(
    fake_hub: FakeHub, hub_env: Path
) -> None:
    add_models(fake_hub)
    fake_hub.add_fault(MODEL, Fault("corrupt", offset=1_500_000, count=3), times=None)
    job, _ = download_one(fake_hub, hub_env)
    assert job.status is FileStatus.FAILED
    assert re.fullmatch(rf"{REPO} {MODEL}: content does not match the Hub's sha256 \(expected "
                        r"[0-9a-f]{12}, got [0-9a-f]{12}\); removed from the cache",
                        job.error or ""), job.error
    assert partials(hub_env) == []


def test_a_file_stalling_mid_file_at_every_attempt_fails_alone(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Its bytes stop for longer than --timeout at each of its --tries: it fails, but the Hub
    was sending, so the next file is still asked for and arrives."""
    add_models(fake_hub)
    fake_hub.add_fault(MODEL, Fault("stall", after=100_000, seconds=3), times=None)
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M", f"{REPO}:Q8_0")
    code, out, _ = run_fetch(root, capsys, timeout=1, jobs=1, tries=2)
    assert code == 1, out
    assert "not asked" not in out
    assert_identical(hub_env, fake_hub, "m-Q8_0.gguf")
