"""The scanner on a test tree built to break it: every bad file is one diagnostic naming it,
nothing hangs or prints a traceback, and every other file is still scanned."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.helpers import invoke_command

SUITE = "tools/server/tests"
BIG = 10 * 1024 * 1024


def ref(repo: str) -> str:
    return f"def test_a():\n    server.model_hf_repo = {repo!r}\n"


def build_corpus(suite: Path) -> dict[str, str]:
    """Write the hostile tree; returns {displayed path: expected words of its diagnostic}."""
    (suite / "sub").mkdir(parents=True)
    (suite / "test_ok.py").write_text(ref("org/a"))
    (suite / "sub/test_ok.py").write_text(ref("org/b"))
    (suite / "helpers.py").write_text("x = 1\n")  # matched, fine, nothing to report
    files: dict[str, bytes] = {
        "test_syntax.py": b"def broken(:\n",
        "test_nul.py": b"x = 1\n\0\n",
        "test_latin1.py": b"s = '\xe9t\xe9'\n",
        "test_big.py": (ref("org/big") + "x = 1\n" * (BIG // 6)).encode(),
        "test_parens.py": b"x = " + b"(" * 300 + b")" * 300 + b"\n",
        "test_attributes.py": b"x = a" + b".b" * 100_000 + b"\n",
        "test_unary.py": b"x = " + b"-" * 100_000 + b"1\n",
        "test_deep_reference.py": (ref("org/x").rstrip() + " + a" + "[0]" * 900 + "\n").encode(),
        "test_\x1b[31mred.py": b"def broken(:\n",
    }
    for name, data in files.items():
        (suite / name).write_bytes(data)
    with open(os.path.join(os.fsencode(suite), b"test_\xff.py"), "wb") as handle:
        handle.write(ref("org/c").encode())  # a name that is not UTF-8: scanned, shown escaped
    os.mkfifo(suite / "test_fifo.py")
    os.symlink("missing.py", suite / "test_dangling.py")
    os.symlink("test_self.py", suite / "test_self.py")
    os.symlink(".", suite / "loop")
    (suite / "test_dir.py").mkdir()
    expected = {
        "test_syntax.py": "syntax error", "test_nul.py": "NUL", "test_latin1.py": "decode",
        "test_big.py": "larger than", "test_parens.py": "nested",
        "test_attributes.py": "nested too deeply", "test_unary.py": "nested too deeply",
        "test_deep_reference.py": "nested too deeply to scan",
        "test_\\x1b[31mred.py": "syntax error",
        "test_fifo.py": "not a regular file", "test_dangling.py": "cannot read",
        "test_self.py": "cannot read", "loop": "symlink loop", "test_dir.py": "is a directory",
    }
    return {f"{SUITE}/{name}": words for name, words in expected.items()}


def models_list(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = invoke_command("models.list", "--root", str(root), *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, TERM="dumb"))


def test_hostile_files_are_one_diagnostic_each_and_the_rest_is_scanned(tmp_path: Path) -> None:
    expected = build_corpus(tmp_path / SUITE)
    run = models_list(tmp_path, "--json")  # a hang (the FIFO, the 10 MB file) hits the timeout
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    document = json.loads(run.stdout)
    found = {(m["hf_repo"], r["file"]) for m in document["models"] for r in m["references"]}
    assert found == {("org/a", f"{SUITE}/test_ok.py"), ("org/b", f"{SUITE}/sub/test_ok.py"),
                     ("org/c", f"{SUITE}/test_\\xff.py")}
    by_file: dict[str, list[str]] = {}
    for diagnostic in document["diagnostics"]:
        by_file.setdefault(diagnostic["file"], []).append(diagnostic["message"])
    assert set(by_file) == set(expected)
    for path, words in expected.items():
        (message,) = by_file[path]
        assert words in message, f"{path}: {message}"


def test_human_output_escapes_file_names_instead_of_sending_them_to_the_terminal(
    tmp_path: Path,
) -> None:
    build_corpus(tmp_path / SUITE)
    run = models_list(tmp_path)
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout + run.stderr
    assert f"{SUITE}/test_\\x1b[31mred.py:1: error: syntax error" in run.stdout
    assert "test_\\xff.py:2" in run.stdout
