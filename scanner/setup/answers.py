"""The preflight's two programs (the suite's interpreter, asked what it has installed, and
`llama-server --version`) answer the same until what they describe changes, so a warm run
asks neither: their last answers are kept in the cache's tool folder (`setup.json`), each
under a key made of what would change the answer.

- The interpreter's: its path, the file it resolves to (size, time), the requirement names
  asked about, `PYTHONPATH` and `PYTHONHOME` (it runs with this process's environment), and
  the time of its venv's `site-packages` folders, which pip changes whenever it installs,
  upgrades or removes a package (a new `*.dist-info` folder, a `.pth` file). An
  interpreter that is no venv of its own, or a venv that sees the system's packages, is asked
  every time: its packages can change where no kept time shows it.
- llama-server's: its path, the file (size, time, inode) and the time of its folder, where a
  build puts the shared libraries it loads.

Only answers that let the run go on are kept; a broken setup is asked again on every run.
A file that cannot be read counts as empty, one that cannot be written is not written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..cache import TOOL_FOLDER
from ..cache.atomic import keep_text

#: Answers kept; the oldest beyond are dropped when one is written.
KEPT = 32
T = TypeVar("T")
_SYSTEM_SITE = re.compile(r"^\s*include-system-site-packages\s*=\s*true\s*$", re.I | re.M)


def _file_identity(path: Path) -> list[int]:
    found = path.stat()  # follows links: the file that runs
    return [found.st_size, found.st_mtime_ns, found.st_ino]


def interpreter_key(python: Path, names: list[str]) -> list[Any] | None:
    """What the interpreter's answer depends on; None when it cannot be told (not a venv of
    its own, or a file missing), and the interpreter is asked."""
    prefix = python.parent.parent  # <venv>/bin/python
    try:
        if _SYSTEM_SITE.search((prefix / "pyvenv.cfg").read_text(errors="replace")):
            return None
        sites = sorted(prefix.glob("lib*/python*/site-packages"))
        if not sites:
            return None
        return ["python", str(python), _file_identity(python), names,
                [[str(site), site.stat().st_mtime_ns] for site in sites],
                [os.environ.get(name, "") for name in ("PYTHONPATH", "PYTHONHOME")]]
    except OSError:
        return None


def binary_key(binary: Path) -> list[Any] | None:
    try:
        return ["binary", str(binary), _file_identity(binary), binary.parent.stat().st_mtime_ns]
    except OSError:
        return None


def _digest(key: list[Any]) -> str:
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()


def _read(path: Path) -> dict[str, Any]:
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


def kept_answer(cache: Path | None, key: list[Any] | None, ask: Callable[[], T],
                load: Callable[[Any], T], dump: Callable[[T], Any]) -> T:
    """The answer kept in `cache` under `key`, else `ask`'s, kept for the next run unless it
    raised or `dump` makes None of it (an answer that stops the run). `load` and `dump` turn
    an answer into JSON and back; a kept answer `load` cannot take is asked again. No cache,
    or no key (what the answer depends on cannot be told): asked, and not kept."""
    if cache is None or key is None:
        return ask()
    path = cache / TOOL_FOLDER / "setup.json"
    digest = _digest(key)
    kept = _read(path)
    if digest in kept:
        with contextlib.suppress(Exception):  # written by another version: asked again
            return load(kept[digest])
    answer = ask()
    dumped = dump(answer)
    if dumped is None:
        return answer
    kept.pop(digest, None)
    kept[digest] = dumped  # the newest last: the oldest are dropped first
    keep_text(path, json.dumps(dict(list(kept.items())[-KEPT:])))
    return answer
