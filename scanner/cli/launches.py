"""The pytest a `test.server` run started, kept for the next time the same command line is
typed in the same folder and environment (`launches/` in the cache's tool folder), and the one
started early from it (`early.py`). Standard library only: the entry point reads it before it
imports the rest of the tool."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..cache import TOOL_FOLDER
from ..cache.atomic import keep_text
from ..selection.spawn import HeldPytest, Launch
from ..setup.environment import cache_dir

#: The task whose pytest may start early.
TASK = "test.server"
#: Launches kept (the newest): one per command line, folder and environment typed.
KEPT = 16
#: A variable whose name holds one of these is never written down.
SECRET_WORDS = ("TOKEN", "PASSWORD", "SECRET", "KEY")


class _State:
    """This process's key (None: not `test.server` from the command) and its early run."""

    key: str | None = None
    folder: Path | None = None
    held: HeldPytest | None = None


def take() -> HeldPytest | None:
    """The pytest started early, once: the caller ends it if it is not the run wanted."""
    held, _State.held = _State.held, None
    return held


def keep(launch: Launch, env: Mapping[str, str]) -> None:
    """Keep `launch` for the next time this command line is typed: only its differences
    from `env` are written (no token or other setting of the user's goes to disk)."""
    if _State.key is None or _State.folder is None:
        return
    changed = {name: value for name, value in launch.env if env.get(name) != value}
    if any(word in name.upper() for name in changed for word in SECRET_WORDS):
        return  # a secret the run added would go to disk: no early start instead
    removed = sorted(set(env) - {name for name, _ in launch.env})
    kept = {"command": launch.command, "folder": launch.folder, "env": changed,
            "removed": removed}
    keep_text(_State.folder / f"{_State.key}.json", json.dumps(kept), newest=KEPT)


def start_kept(argv: Sequence[str], cwd: str, env: Mapping[str, str]) -> None:
    """Start the launch kept for this command line, folder and environment, if there is one
    (`take` hands it to the run; a run that never takes it ends it as it exits)."""
    if TASK not in argv:
        return
    typed = json.dumps([list(argv), cwd, sorted(env.items())])
    _State.key = hashlib.sha256(typed.encode()).hexdigest()[:32]
    _State.folder = cache_dir(env) / TOOL_FOLDER / "launches"
    path = _State.folder / f"{_State.key}.json"
    with contextlib.suppress(FileNotFoundError):
        kept = json.loads(path.read_text(encoding="utf-8"))
        child_env = {name: value for name, value in env.items()
                     if name not in kept["removed"]} | kept["env"]
        _State.held = HeldPytest(Launch.of(kept["command"], Path(kept["folder"]), child_env))
        atexit.register(_end_untaken)
        os.utime(path)  # used: among the newest, which `keep_text` keeps


def _end_untaken() -> None:
    held = take()
    if held is not None:
        held.discard()

