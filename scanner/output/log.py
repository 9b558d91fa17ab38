"""What the tool says besides its tables and summaries, through `logging` (the `scanner`
logger): errors and warnings on stderr, always; notes on stdout unless quiet; the requests and
decisions of a run when verbose. One switch for every task: `--verbosity quiet|verbose`
(`models.verbosity`, `INVOKE_MODELS_VERBOSITY`)."""

from __future__ import annotations

import logging
import sys

LEVELS = {"quiet": logging.WARNING, "normal": logging.INFO, "verbose": logging.DEBUG}
LOGGER = logging.getLogger("scanner")


class _Streams(logging.Handler):
    """Warnings and errors to stderr, the rest to stdout; the streams of the moment (a test's
    captured ones, pytest's when its capture is suspended)."""

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to say
            pass


def setup(verbosity: str) -> None:
    """Say as much as `verbosity` asks (quiet, normal or verbose), from here on."""
    if not any(isinstance(handler, _Streams) for handler in LOGGER.handlers):
        LOGGER.addHandler(_Streams())
    LOGGER.setLevel(LEVELS[verbosity])


def quiet() -> bool:
    return not LOGGER.isEnabledFor(logging.INFO)


def verbose() -> bool:
    return LOGGER.isEnabledFor(logging.DEBUG)


def error(text: str) -> None:
    """A message that says why the run did not do its job (its own prefix: `error:`, ...)."""
    LOGGER.error(text)


def warning(text: str) -> None:
    LOGGER.warning(text)


def note(text: str) -> None:
    """What a person may want to know; not said when quiet."""
    LOGGER.info(text)


def debug(text: str) -> None:
    """A request or a decision; said when verbose."""
    LOGGER.debug(text)
