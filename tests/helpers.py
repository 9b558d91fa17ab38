"""What several test modules share: the repo root, `invoke` command lines, writing a project's
test suite, an in-process `models.fetch`, and llama.cpp's offline lookup in the hub cache."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from scanner.cli import commands
from scanner.cli.options import build_options

REPO_ROOT = Path(__file__).resolve().parent.parent


def invoke_command(*args: str) -> list[str]:
    """`fetch-test-models ARGS...` with this interpreter, as a user runs the tasks."""
    return [sys.executable, "-m", "scanner.cli.early", *args]


def invoke_r_command(*args: str) -> list[str]:
    """`invoke -r <this repo> ARGS...`: the tasks through Invoke's own command."""
    return [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), *args]


def write_suite(root: Path, source: str, name: str = "test_models.py") -> Path:
    """Write `source` (dedented) as `root/tools/server/tests/<name>`; returns `root`."""
    path = root / "tools/server/tests" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return root


def suite_for(root: Path, *models: str) -> Path:
    """A test file that references each `org/name[:TAG]` once."""
    body = "".join(f"    s{i}.model_hf_repo = {m!r}\n" for i, m in enumerate(models))
    return write_suite(root, f"def test_a():\n{body}")


def run_fetch(
    root: Path, capsys: pytest.CaptureFixture[str], **flags: object
) -> tuple[int, str, str]:
    """`models.fetch` in this process on the project at `root`: (exit code, stdout, stderr)."""
    options = build_options({}, root=str(root), **flags)
    code = commands.fetch_models(options, env=dict(os.environ))
    out, err = capsys.readouterr()
    return code, out, err


def llama_snapshot(cache: Path, repo: str, path: str) -> Path | None:
    """Where llama.cpp finds `path` of `repo` offline: refs/main -> snapshots/<commit>/<path>,
    which must be a symlink that exists; asserts it resolves into the repo's blobs/ folder.
    None if that chain is broken. Deliberately does not use scanner/cache/layout.py, so that it
    stays an independent check of the cache layout."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    try:
        commit = (folder / "refs" / "main").read_text().strip()
    except FileNotFoundError:
        return None
    link = folder / "snapshots" / commit / path
    if not link.is_symlink() or not link.exists():
        return None
    assert Path(os.path.realpath(link)).parent == (folder / "blobs").resolve()
    return link


def llama_offline_lookup(cache: Path, repo: str, path: str) -> bytes | None:
    """What llama.cpp reads offline for `path` of `repo` (see `llama_snapshot`), or None."""
    link = llama_snapshot(cache, repo, path)
    return None if link is None else link.read_bytes()
