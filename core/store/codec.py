"""Converting between Python values and the text a store keeps (timestamps, JSON, durations)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

_IDENTIFIER = re.compile(r"[a-z_]+")


def ts(value: datetime | None) -> str | None:
    """A timezone-aware datetime as fixed-width UTC ISO text, so text order is time order."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def when(value: datetime | str | None) -> datetime | None:
    """A stored timestamp from either backend: ISO text (SQLite) or a datetime (asyncpg)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if value else None


parse_ts = when  # ISO text as SQLite keeps it


def when_required(value: datetime | str) -> datetime:
    found = when(value)
    assert found is not None, "a required timestamp is missing"
    return found


def sql_in(values: Iterable[StrEnum]) -> str:
    """A set of statuses from core as an SQL list, `('a', 'b')`, sorted.

    Only for enum values (identifiers, never user text), so quoting them is safe."""
    listed = sorted(v.value for v in values)
    assert listed and all(_IDENTIFIER.fullmatch(v) for v in listed), listed
    return "(" + ", ".join(f"'{v}'" for v in listed) + ")"


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def dumps(value: Any) -> str:
    """`value` as compact JSON text (what `json.dumps` makes of it with these settings, from
    one encoder built once instead of one per call)."""
    return _ENCODER.encode(value)


def loads(value: str | None) -> Any:
    return json.loads(value) if value and value != "{}" else {}


MAX_REF = 2**31 - 1  # session numbers fit a 32-bit integer column on every backend


def ref_key(ref: str) -> int | str:
    """A session's number when `ref` is one (ASCII digits within range), else `ref` itself,
    which is then looked up as a full id (and matches nothing if it is not one)."""
    if ref.isascii() and ref.isdigit() and len(ref) <= 10 and int(ref) <= MAX_REF:
        return int(ref)
    return ref
