"""A warm `test.server` asks neither the suite's interpreter what it has installed nor
llama-server its version while nothing they answered about changed; an install into the
interpreter's venv, or a rebuilt llama-server, is asked again. The llama-server here is a
stand-in (a shell script that logs each run and prints a version), and the suite's
interpreter a venv whose `bin/python` logs each run, then runs this interpreter."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.fakehub import FakeHub
from tests.helpers import invoke_command
from tests.test_onboarding import run, serve_model, server_suite, standin_server

#: How the preflight's question to the interpreter starts (`preflight._PROBE`).
PROBE = "-c import importlib.metadata"


def logging_venv(folder: Path, log: Path) -> tuple[Path, Path]:
    """A venv of its own (its pyvenv.cfg, its site-packages) whose python logs each run; the
    python and the site-packages folder."""
    site = folder / "lib" / "python3.99" / "site-packages"
    site.mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text("include-system-site-packages = false\n")
    python = folder / "bin" / "python"
    python.parent.mkdir()
    python.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\n'
                      f'exec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    return python, site


def logged(log: Path, start: str) -> int:
    return sum(line.startswith(start) for line in log.read_text().splitlines())


def logging_server(path: Path, log: Path, version: str) -> Path:
    """The llama-server stand-in, logging each run before it answers `--version`."""
    return standin_server(path, f'echo "$*" >> {shlex.quote(str(log))}\n'
                                f'echo "version: {version}" >&2\n')


class Setup(NamedTuple):
    root: Path
    log: Path  # each run of the interpreter and of llama-server
    site: Path  # the venv's site-packages
    binary: Path
    command: list[str]

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        return run(self.command, self.root, self.root.parent / "cache",
                   LLAMA_SERVER_BIN_PATH=str(self.binary), **env)


@pytest.fixture
def setup(fake_hub: FakeHub, hub_env: Path, tmp_path: Path) -> Setup:
    """A llama.cpp-shaped suite run by `test.server --python <a logging venv>`."""
    serve_model(fake_hub)
    log = tmp_path / "runs.log"
    python, site = logging_venv(tmp_path / "venv", log)
    return Setup(server_suite(tmp_path / "proj"), log, site,
                 logging_server(tmp_path / "bin" / "llama-server", log, "4242 (abc1234)"),
                 invoke_command("test.server", "--python", str(python), "--", "-q"))


def test_a_warm_run_asks_neither_program_until_an_install_or_a_rebuild(setup: Setup) -> None:
    log = setup.log

    def test_server() -> str:
        result = setup.run()
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 passed" in result.stdout
        return result.stdout

    test_server()
    assert (logged(log, PROBE), logged(log, "--version")) == (1, 1)
    test_server()
    assert (logged(log, PROBE), logged(log, "--version")) == (1, 1), "a warm run asked again"

    (setup.site / "newly_installed-1.0.dist-info").mkdir()  # what `pip install` leaves
    test_server()
    assert (logged(log, PROBE), logged(log, "--version")) == (2, 1)

    logging_server(setup.binary, log, "4343 (def5678)")  # rebuilt
    assert "4343 (def5678)" in test_server()
    assert (logged(log, PROBE), logged(log, "--version")) == (2, 2)


def test_a_requirement_installed_after_a_refusal_is_found_on_the_next_run(setup: Setup) -> None:
    (setup.root / "tools/server/tests/requirements.txt").write_text("pytest\nnot_yet_installed\n")
    refused = setup.run()
    assert refused.returncode == 2 and "has no not_yet_installed" in refused.stderr
    again = setup.run()
    assert again.returncode == 2 and "has no not_yet_installed" in again.stderr
    assert logged(setup.log, PROBE) == 2, "a refused setup is asked again on every run"

    installed = setup.site / "not_yet_installed-1.0.dist-info"  # `pip install not_yet_installed`
    installed.mkdir()
    (installed / "METADATA").write_text("Metadata-Version: 2.1\nName: not_yet_installed\n"
                                        "Version: 1.0\n")
    result = setup.run(PYTHONPATH=str(setup.site))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
