"""One switch for every task: quiet says errors and the summary only, verbose adds every
request and decision; normal is as before."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import invoke_command, suite_for


def fetch(root: Path, cache: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(invoke_command("models.fetch", "--root", str(root), *flags),
                          env=dict(os.environ, HF_HUB_CACHE=str(cache)), capture_output=True,
                          text=True, timeout=120)


def test_quiet_normal_and_verbose_fetches_say_less_and_more(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    fake_hub.add_repo("org/a", {"a-Q4_K_M.gguf": GeneratedFile(1_000, 1)})
    root = suite_for(tmp_path / "p", "org/a", "org/missing")
    runs = {level: fetch(root, tmp_path / level, "--verbosity", level)
            for level in ("quiet", "normal", "verbose")}
    for level, run in runs.items():
        assert run.returncode == 1, run.stdout + run.stderr  # org/missing fails
        assert "2 models: 1 downloaded, 1 failed" in run.stdout, level
        assert "FAILED org/missing" in run.stdout, level
    quiet, normal, verbose = (runs[level].stdout for level in ("quiet", "normal", "verbose"))
    assert "listing 2 repo(s)" not in quiet and "to download:" not in quiet
    assert "listing 2 repo(s)" in normal and "to download:" in normal
    assert "asking" not in normal and "GET " not in normal
    assert f"asking {fake_hub.url} about org/a" in verbose
    assert "/resolve/" in verbose and "org/a a-Q4_K_M.gguf: download" in verbose
    assert len(quiet.splitlines()) < len(normal.splitlines()) < len(verbose.splitlines())


def test_a_bad_verbosity_is_a_usage_error_naming_the_key(tmp_path: Path) -> None:
    run = subprocess.run(invoke_command("models.list", "--root", str(suite_for(tmp_path, "o/a")),
                                        "--verbosity", "loud"), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2
    assert "error: invalid option: verbosity: Input should be 'quiet', 'normal' or 'verbose'" \
        in run.stderr
