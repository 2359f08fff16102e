"""What never reaches a log line: credential shapes, configured secrets, capability URLs.

The filter sits on the handler, so it sees every logger's records (ours and the libraries'),
their arguments, their exception text and their string `extra=` fields, and rewrites them before
any formatter runs; the formatter wrapper then masks the whole formatted line, so values of any
type (dicts, lists, bytes in `extra=`) are masked too.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable

MASK = "[redacted]"
_URLSAFE = r"A-Za-z0-9_\-"
# Each shape with the part to keep (a host, a path prefix) as group 1 when there is one.
SHAPES: tuple[re.Pattern[str], ...] = (
    # Slack tokens: bot, user, app-level, legacy, refresh and rotating (xoxe.xoxb-…, xoxe-1-…).
    re.compile(r"xox[abeoprs](?:\.xox[a-z])?-[A-Za-z0-9\-.]+"),
    re.compile(r"xapp-[A-Za-z0-9\-]+"),
    # sessionbot API tokens: sbt_<key id>_<secret>.
    re.compile(rf"sbt_[{_URLSAFE}]+"),
    # Capability URLs: whoever holds one can post as the bot.
    re.compile(r"(hooks\.slack(?:-gov)?\.com/)[^\s\"'<>]+"),
    re.compile(r"(/(?:api/)?(?:v\d+/)?webhooks/\d+/)[^\s\"'<>/?]+"),
    re.compile(r"(/interactions/\d+/)[^\s\"'<>/?]+"),
    # Discord bot tokens: base64 user id, timestamp, HMAC.
    re.compile(rf"[{_URLSAFE}]{{23,28}}\.[{_URLSAFE}]{{6,7}}\.[{_URLSAFE}]{{27,}}"),
    # Credentials in headers and query strings.
    re.compile(r"((?:Bearer|Bot|Basic)\s+)[^\s\"',]+", re.IGNORECASE),
    re.compile(r"((?:token|secret|signature|client_secret|code)=)[^\s&\"']+", re.IGNORECASE),
    # Passwords in URLs (scheme://user:password@host) and JSON-style credential values.
    re.compile(r"(://[^/\s:@]*:)[^@\s/]+(?=@)"),
    re.compile(
        r"(([\"'])(?:[a-z]+_)?(?:token|password|secret)\2\s*:\s*([\"']))(?:(?!\3)[^\\]|\\.)*(?=\3)",
        re.IGNORECASE,
    ),
    # Slack signing secrets (32 hex digits) and random secrets such as webhook secrets
    # (secrets.token_urlsafe: 43 characters, lower case with upper case or digits).
    re.compile(r"(?<![0-9a-fA-F])[0-9a-f]{32}(?![0-9a-fA-F])"),
    re.compile(
        rf"(?<![{_URLSAFE}])(?=[{_URLSAFE}]*[0-9A-Z])(?=[{_URLSAFE}]*[a-z])"
        rf"[{_URLSAFE}]{{40,}}(?![{_URLSAFE}])"
    ),
)
# Attributes every LogRecord has; anything else came in through `extra=`.
STANDARD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


class Redactor:
    """Masks the secret shapes above and any literal secret it was given."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        given = {s for s in secrets if s and len(s) >= 8}
        # As written, and as they appear inside a JSON string (quotes, backslashes escaped).
        given |= {json.dumps(s, ensure_ascii=False)[1:-1] for s in given}
        known = sorted(given, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, known))) if known else None

    def __call__(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(MASK, text)
        for shape in SHAPES:
            text = shape.sub(_keep_prefix, text)
        return text


def _keep_prefix(match: re.Match[str]) -> str:
    return (match.group(1) if match.re.groups else "") + MASK


class RedactingFilter(logging.Filter):
    """Rewrites each record so that no formatter can write a secret (message, error, fields)."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad `%` call must not crash its caller
            message = f"{record.msg!r} (unformattable args)"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in STANDARD_FIELDS and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


class RedactingFormatter(logging.Formatter):
    """Masks the whole line another formatter wrote: every field, whatever its type."""

    def __init__(self, inner: logging.Formatter, redact: Redactor) -> None:
        super().__init__()
        self.inner = inner
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(self.inner.format(record))
