"""Mapping SQLite rows to domain records: timestamps come back as ISO text."""

from __future__ import annotations

from core.store.codec import parse_ts
from core.store.decode import EVENT_COLUMNS, SESSION_COLUMNS, RowDecoder

_decode = RowDecoder(parse_ts)

session = _decode.session
member = _decode.member
plan = _decode.plan
plan_item = _decode.plan_item
approval = _decode.approval
modification = _decode.modification
event = _decode.event
outbox = _decode.outbox

__all__ = ["EVENT_COLUMNS", "SESSION_COLUMNS", "approval", "event", "member", "modification",
           "outbox", "plan", "plan_item", "session"]  # fmt: skip
