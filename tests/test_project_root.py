"""Without --root, the root is found by walking up from the current folder, as git and pytest
find theirs: a llama.cpp checkout from anywhere inside it, another suite at pytest's rootdir."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.cli.options import build_options
from scanner.scan.project_root import find_root

SUITE = "tools/server/tests"


def folder(path: Path, *files: str, text: str = "") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name in files:
        (path / name).write_text(text)
    return path


@pytest.mark.parametrize("inside", [".", SUITE, f"{SUITE}/unit", "tools", "build/bin"])
def test_a_llama_cpp_checkout_is_found_from_anywhere_inside_it(tmp_path: Path,
                                                               inside: str) -> None:
    checkout = tmp_path / "llama.cpp"
    folder(checkout / SUITE / "unit", "pytest.ini")  # the suite's own pytest.ini is no root
    assert find_root(SUITE, folder(checkout / inside)) == checkout


def test_the_nearest_checkout_wins(tmp_path: Path) -> None:
    outer, inner = tmp_path, tmp_path / "vendor/llama.cpp"
    folder(outer / SUITE)
    folder(inner / SUITE)
    assert find_root(SUITE, inner / SUITE) == inner


@pytest.mark.parametrize(("config", "text"), [
    ("pytest.ini", ""), ("pyproject.toml", "[project]\n\n[tool.pytest.ini_options]\n"),
    ("pyproject.toml", "[tool.pytest]\ntestpaths = ['tests']\n"),  # pytest 9's native table
    ("tox.ini", "[pytest]\n"), ("setup.cfg", "[tool:pytest]\n"), ("conftest.py", ""),
])
def test_another_suite_is_rooted_where_pytest_would_put_its_rootdir(
    tmp_path: Path, config: str, text: str
) -> None:
    project = folder(tmp_path / "project", config, text=text)
    assert find_root(".", folder(project / "tests/unit")) == project


@pytest.mark.parametrize(("config", "text"), [
    ("pyproject.toml", "[project]\nname = 'x'\n"), ("tox.ini", "[tox]\n"),
    ("setup.cfg", "[metadata]\n"), ("setup.cfg", "not an ini file ["),
])
def test_a_file_that_does_not_configure_pytest_is_no_root(tmp_path: Path, config: str,
                                                          text: str) -> None:
    project = folder(tmp_path / "project", config, text=text)
    assert find_root(".", folder(project / "tests")) != project


def test_an_explicit_root_still_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = tmp_path / "llama.cpp"
    monkeypatch.chdir(folder(checkout / SUITE))
    assert build_options({}).root == checkout
    assert build_options({"root": str(tmp_path)}).root == tmp_path
