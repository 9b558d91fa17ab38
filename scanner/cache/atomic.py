"""Replacing a file in one rename, so that a reader (llama.cpp, huggingface_hub, another run)
sees the old one or the new one, never half of either; what a failed write made is removed."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


def replace_atomically(target: Path, make: Callable[[Path], Any]) -> None:
    """`make` creates a temporary sibling of `target` (a file or a symlink), which then takes
    `target`'s place; the name is per process and thread, so concurrent writers never share
    one."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        temporary.unlink(missing_ok=True)
        make(temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise


def write_text(target: Path, text: str) -> None:
    """`target` holds `text` (UTF-8), replaced in one rename."""
    replace_atomically(target, lambda temporary: temporary.write_bytes(text.encode("utf-8")))


def keep_text(target: Path, text: str, *, newest: int | None = None) -> None:
    """`text` at `target` for a later run, in one rename; a cache that cannot be written to
    (read-only, full) keeps nothing, and that run does the work again. With `newest`, only that
    many of the folder's `*.json` files stay, the least recently written going first."""
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, text)
        if newest is not None:
            kept = sorted(target.parent.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
            for old in kept[:-newest]:
                old.unlink(missing_ok=True)
