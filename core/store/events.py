"""A session's audit events (written by `ops.AddEvent` and `ops.CheckedEvent`)."""

from __future__ import annotations

from core.models import Event
from core.store.db import Database
from core.store.decode import EVENT_COLUMNS, rows

_E = f"SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ?"


class Events:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def newest(
        self, session_id: str, *, limit: int, before_seq: int | None = None
    ) -> list[Event]:
        """Newest first, older than `before_seq` when given."""
        before, args = ("", ()) if before_seq is None else (" AND seq < ?", (before_seq,))
        found = await self.db.fetchall(
            f"{_E}{before} ORDER BY seq DESC LIMIT ?", (session_id, *args, limit)
        )
        return [rows.event(r) for r in found]

    async def after(self, session_id: str, *, after_seq: int, limit: int) -> list[Event]:
        """Oldest first, strictly newer than `after_seq`."""
        found = await self.db.fetchall(
            f"{_E} AND seq > ? ORDER BY seq LIMIT ?", (session_id, after_seq, limit)
        )
        return [rows.event(r) for r in found]
