"""`SESSIONBOT_LOG_FORMAT=json`: one JSON object per line on standard error, secrets-free fields."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import JsonFormatter, setup_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_format_writes_one_object_per_line_to_stderr(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("INFO", "json")
    log = logging.getLogger("sessionbot.test")
    log.info("session %s started by %s", "#42", "ünïcode", extra={"session_id": "s-1"})
    log.debug("not shown at info")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        log.exception("job %s failed", "sweep")
    captured = capsys.readouterr()
    assert captured.out == ""
    first, second = (json.loads(line) for line in captured.err.splitlines())
    assert first["level"] == "info" and first["logger"] == "sessionbot.test"
    assert first["message"] == "session #42 started by ünïcode"
    assert first["session_id"] == "s-1"
    assert first["at"].endswith("+00:00")
    assert second["level"] == "error" and second["message"] == "job sweep failed"
    assert "ValueError: boom" in second["error"] and "Traceback" in second["error"]


def test_text_format_is_the_default(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("WARNING")
    logging.getLogger("sessionbot.test").warning("plain %s", "words")
    line = capsys.readouterr().err.strip()
    assert line.endswith("WARNING sessionbot.test: plain words")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_fields_that_are_not_json_are_written_as_text() -> None:
    record = logging.LogRecord("x", logging.INFO, "f.py", 1, "m", None, None)
    record.when = object()
    assert json.loads(JsonFormatter().format(record))["when"].startswith("<object object")
