"""Every log record of a test, at DEBUG, through the production handler (filters and all)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from bot.logs import LIBRARIES, setup_logging

# Any of these in a log means a request body or a reply was logged.
BODY_MARKERS = ("response_url", "command=%2Fsession", "payload=", "trigger_id")


@contextmanager
def debug_logs(secrets: Iterable[str | None] = ()) -> Iterator[io.StringIO]:
    """The root logger at DEBUG into a buffer, as `sessionbot` sets it up; restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in LIBRARIES}
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream, secrets=secrets)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


def leaked(text: str, secrets: Iterable[str]) -> list[str]:
    """The secrets and body markers that appear in `text`."""
    return [s for s in (*secrets, *BODY_MARKERS) if s and s in text]
