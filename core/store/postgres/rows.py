"""Mapping PostgreSQL rows (asyncpg records) to domain records.

asyncpg hands back timestamptz as aware datetimes, booleans as bool and `json` as its text,
so only JSON needs decoding (core/store/decode.py); timestamps pass through.
"""

from __future__ import annotations

from datetime import datetime

from core.store.decode import EVENT_COLUMNS, SESSION_COLUMNS, RowDecoder


def _as_is(value: datetime | None) -> datetime | None:
    return value


_decode = RowDecoder(_as_is)

S_COLUMNS = ", ".join(f"s.{c.strip()}" for c in SESSION_COLUMNS.split(","))

session = _decode.session
member = _decode.member
plan = _decode.plan
plan_item = _decode.plan_item
approval = _decode.approval
modification = _decode.modification
event = _decode.event
outbox = _decode.outbox

__all__ = ["EVENT_COLUMNS", "SESSION_COLUMNS", "S_COLUMNS", "approval", "event", "member",
           "modification", "outbox", "plan", "plan_item", "session"]  # fmt: skip
