"""The `fetch-test-models` command's entry point. `test.server` typed again as before (the same
words, folder and environment) starts its pytest at once, as the last such run started it
(`launches.py`), while the tool imports Invoke, pydantic and its options and checks the setup,
instead of after. The run takes that pytest only if it is the very launch it wants
(`LiveRun`); any other, and one the run never reaches (a usage error, a refused setup,
`--no-fetch`), is ended: past the header it may have printed, it ends on SIGTERM without a
word. Any failure here only means no early start."""

from __future__ import annotations

import contextlib
import os
import sys

from ..errors import ExitCode
from . import launches


def main() -> None:
    """Start the kept launch of this command line, if any, then run the command. Ctrl-C while
    the tool loads (before a task could take it) is one line and exit 130, as in a task."""
    try:
        with contextlib.suppress(Exception):
            launches.start_kept(sys.argv[1:], os.getcwd(), os.environ)
        from .program import program
    except KeyboardInterrupt:
        print("interrupted: stopped by Ctrl-C before anything was done", file=sys.stderr)
        sys.exit(ExitCode.INTERRUPTED)
    program.run()


if __name__ == "__main__":  # `python -m scanner.cli.early`, as the tests run the command
    main()
