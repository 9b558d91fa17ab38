"""A warm `test.server` asks neither the suite's interpreter what it has installed nor
llama-server its version while nothing they answered about changed; an install into the
interpreter's venv, or a rebuilt llama-server, is asked again. The llama-server here is a
stand-in (a shell script that logs each run and prints a version), and the suite's
interpreter a venv whose `bin/python` logs each run, then runs this interpreter."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

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


def test_a_warm_run_asks_neither_program_until_an_install_or_a_rebuild(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_model(fake_hub)
    root = server_suite(tmp_path / "proj")
    log = tmp_path / "runs.log"
    python, site = logging_venv(tmp_path / "venv", log)
    binary = standin_server(tmp_path / "bin" / "llama-server",
                            f'echo "$*" >> {shlex.quote(str(log))}\n'
                            'echo "version: 4242 (abc1234)" >&2\n')
    command = invoke_command("test.server", "--python", str(python), "--", "-q")
    env = {"LLAMA_SERVER_BIN_PATH": str(binary)}

    def test_server() -> str:
        result = run(command, root, tmp_path / "cache", **env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 passed" in result.stdout
        return result.stdout

    test_server()
    assert (logged(log, PROBE), logged(log, "--version")) == (1, 1)
    test_server()
    assert (logged(log, PROBE), logged(log, "--version")) == (1, 1), "a warm run asked again"

    (site / "newly_installed-1.0.dist-info").mkdir()  # what `pip install` leaves
    test_server()
    assert (logged(log, PROBE), logged(log, "--version")) == (2, 1)

    standin_server(binary, f'echo "$*" >> {shlex.quote(str(log))}\n'
                           'echo "version: 4343 (def5678)" >&2\n')  # rebuilt
    assert "4343 (def5678)" in test_server()
    assert (logged(log, PROBE), logged(log, "--version")) == (2, 2)


def test_a_requirement_installed_after_a_refusal_is_found_on_the_next_run(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_model(fake_hub)
    root = server_suite(tmp_path / "proj")
    (root / "tools/server/tests/requirements.txt").write_text("pytest\nnot_yet_installed\n")
    log = tmp_path / "runs.log"
    python, site = logging_venv(tmp_path / "venv", log)
    env = {"LLAMA_SERVER_BIN_PATH": str(standin_server(tmp_path / "bin" / "llama-server"))}
    command = invoke_command("test.server", "--python", str(python), "--", "-q")

    refused = run(command, root, tmp_path / "cache", **env)
    assert refused.returncode == 2 and "has no not_yet_installed" in refused.stderr
    again = run(command, root, tmp_path / "cache", **env)
    assert again.returncode == 2 and "has no not_yet_installed" in again.stderr
    assert logged(log, PROBE) == 2, "a refused setup is asked again on every run"

    installed = site / "not_yet_installed-1.0.dist-info"  # `pip install not_yet_installed`
    installed.mkdir()
    (installed / "METADATA").write_text("Metadata-Version: 2.1\nName: not_yet_installed\n"
                                        "Version: 1.0\n")
    result = run(command, root, tmp_path / "cache", PYTHONPATH=str(site), **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
