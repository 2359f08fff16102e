"""Logging set-up: one handler, secrets masked, libraries held at warning, text or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from bot.config import Config
from bot.redaction import STANDARD_FIELDS, RedactingFilter, RedactingFormatter, Redactor
from core.files import create_private_file

# Our own loggers: only these log below WARNING. Libraries' DEBUG/INFO lines carry request
# bodies, replies (webhook secrets, response URLs) or tokens, under logger names of their
# choosing (Bolt names some after the app), so every other logger is held at WARNING,
# whatever SESSIONBOT_LOG_LEVEL says.
OWN = frozenset({"bot", "core", "adapters", "sessionbot", "__main__"})
# The chattiest of them are also set to WARNING, so they do not even build those records.
LIBRARIES = (
    "slack_bolt",
    "slack_sdk",
    "discord",
    "aiohttp",
    "websockets",
    "asyncio",
    "aiosqlite",
    "asyncpg",
    "apscheduler",
    "urllib3",
)
LOG_FILE_NAME = "sessionbot.log"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, `extra=` fields, any exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in STANDARD_FIELDS and key not in entry:
                entry[key] = value
        if record.exc_text:  # set (and masked) by the redacting filter
            entry["error"] = record.exc_text
        elif record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class LibraryFloor(logging.Filter):
    """Drops records below WARNING from every logger that is not ours, whatever its level."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.split(".", 1)[0] in OWN


def configure_logging(config: Config, *, console: bool = False) -> Path | None:
    """Log for this process; returns the log file, if any.

    The console's screen is for replies and notifications: its logs go to SESSIONBOT_LOG_FILE,
    else to `sessionbot.log` beside the SQLite database (or in ./data), and if that cannot be
    opened, only warnings reach standard error.
    """
    file = Path(config.log_file) if config.log_file else None
    if file is None and console:
        file = console_log_file(config.database_url)
    secrets = config_secrets(config)
    try:
        setup_logging(config.log_level, config.log_format, secrets=secrets, file=file)
    except OSError:
        level = max(logging.getLevelName(config.log_level), logging.WARNING)
        setup_logging(logging.getLevelName(level), config.log_format, secrets=secrets)
        return None
    return file


def console_log_file(database_url: str) -> Path:
    """`sessionbot.log` beside a SQLite database file, else in ./data."""
    path = database_url.removeprefix("sqlite:///")
    if path == database_url or path.startswith(":memory:"):
        return Path("data") / LOG_FILE_NAME
    return Path(path).parent / LOG_FILE_NAME


def config_secrets(config: Config) -> list[str | None]:
    """The configured credentials, masked wherever they appear whatever their shape."""
    slack, discord = config.slack, config.discord
    return [
        slack.bot_token,
        slack.signing_secret,
        slack.app_token,
        slack.client_secret,
        discord.token,
        _url_password(config.database_url),
    ]


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def setup_logging(
    level: str = "INFO",
    fmt: str = "text",
    *,
    secrets: Iterable[str | None] = (),
    stream: TextIO | None = None,
    file: Path | None = None,
) -> logging.Handler:
    """Send every record through one handler (standard error, `stream` or `file`, 0600)."""
    handler = _handler(stream, file)
    redact = Redactor(secrets)
    inner = JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(RedactingFormatter(inner, redact))
    handler.addFilter(LibraryFloor())
    handler.addFilter(RedactingFilter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler


def _handler(stream: TextIO | None, file: Path | None) -> logging.Handler:
    if file is None:
        return logging.StreamHandler(stream or sys.stderr)
    create_private_file(file)  # 0600 (folders 0700) before logging opens it
    return logging.FileHandler(file, encoding="utf-8")
