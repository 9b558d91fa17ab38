"""How every task and `test.server` end on bad input or Ctrl-C: one message and an exit code.
Light on purpose: `test.server` starts pytest before the scan and the fetch are imported."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

from ..errors import ExitCode, NoTestFiles, NoTestsSelected, OptionsError, SetupError
from ..fetch.lock import LockError
from ..output import log
from .options import Options

P = ParamSpec("P")


def usage_errors(interrupted: str) -> Callable[[Callable[P, int]], Callable[P, int]]:
    """Nothing matched, a lock that cannot be read or a setting that cannot work: one message
    and exit 2, whichever task. Ctrl-C in any phase: one line and exit 130, which says what
    the task left (`interrupted`, when it was stopped before doing anything lasting)."""
    def wrap(command: Callable[P, int]) -> Callable[P, int]:
        @functools.wraps(command)
        def run(*args: P.args, **kwargs: P.kwargs) -> int:
            if isinstance(args[0], Options):
                log.setup(args[0].models.verbosity)
            try:
                return command(*args, **kwargs)
            except (NoTestFiles, LockError, OptionsError, SetupError) as exc:
                log.error(f"error: {exc}")
                return ExitCode.USAGE
            except NoTestsSelected as exc:
                log.error(str(exc))
                return ExitCode.NO_TESTS
            except KeyboardInterrupt as exc:
                log.error(f"interrupted: {str(exc) or interrupted}")
                return ExitCode.INTERRUPTED
        return run
    return wrap
