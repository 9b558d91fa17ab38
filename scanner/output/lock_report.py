"""Output of `models.lock`: what was written, whether the lock on disk is up to date (its diff
when stale), or why it was neither written nor checked."""

from __future__ import annotations

from . import log
from .outcomes import Locked


def show_locked(locked: Locked) -> None:
    path = locked.path
    if locked.state == "unresolved":
        for plan in locked.unresolved:
            log.error(f"error: {plan.model.label()}: {plan.error or plan.note}")
        log.error(f"error: {len(locked.unresolved)} model(s) could not be resolved; {path} was "
                  f"{'not checked' if locked.check else 'not written'}")
    elif locked.state == "up to date":
        print(f"{path} is up to date ({len(locked.entries)} files)")
    elif locked.state == "stale":
        log.error(f"{path} is stale: `fetch-test-models models.lock` would change it")
        for line in locked.diff or ():
            log.error(f"    {line}")
    elif locked.state == "not written":
        log.error(f"error: cannot write {path}: {locked.write_error}")
    else:
        models = len({entry.model for entry in locked.entries})
        print(f"wrote {path}: {models} models, {len(locked.entries)} files")
