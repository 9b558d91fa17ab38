"""What a plain (non-editable) install ships: every package under `scanner/`."""

from __future__ import annotations

import pytest
import setuptools

from tests.helpers import REPO_ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_the_package_list_in_pyproject_covers_every_subpackage() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = config["packages"]["find"]
    shipped = set(setuptools.find_packages(str(REPO_ROOT), include=found["include"]))
    on_disk = {".".join(p.parent.relative_to(REPO_ROOT).parts)
               for p in (REPO_ROOT / "scanner").rglob("__init__.py")}
    assert on_disk <= shipped and {"scanner.fetch", "scanner.output"} <= shipped
