"""Converting between Python values and the text a store keeps (timestamps, JSON, durations)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def ts(value: datetime | None) -> str | None:
    """A timezone-aware datetime as fixed-width UTC ISO text, so text order is time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def parse_ts_required(value: str) -> datetime:
    return datetime.fromisoformat(value)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def loads(value: str | None) -> Any:
    if not value or value == "{}":
        return {}
    return json.loads(value)
