"""Files replaced in one rename: a reader sees the old or the new, and a failed write leaves
the old one and nothing beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.cache import atomic


def test_a_failed_write_leaves_the_old_file_and_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "refs-main"
    atomic.write_text(target, "old")

    def half_then_fail(temporary: Path) -> None:
        temporary.write_text("ha")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic.replace_atomically(target, half_then_fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["refs-main"]


def test_a_link_replaces_a_link_and_text_replaces_text(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("A")
    (tmp_path / "b").write_text("B")
    link = tmp_path / "link"
    for name in ("a", "b"):
        atomic.replace_atomically(link, lambda temporary, n=name: temporary.symlink_to(n))
    assert link.read_text() == "B" and link.is_symlink()
    atomic.write_text(tmp_path / "t", "é")
    assert (tmp_path / "t").read_bytes() == "é".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "link", "t"]
