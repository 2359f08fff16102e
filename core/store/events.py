"""A session's audit events (written by `ops.AddEvent` and `ops.CheckedEvent`)."""

from __future__ import annotations

from typing import Any

from core.models import Event
from core.store.db import Database
from core.store.decode import EVENT_COLUMNS, rows

_E = f"SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ?"


class Events:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _events(self, rest: str, *args: Any) -> list[Event]:
        return [rows.event(r) for r in await self.db.fetchall(_E + rest, args)]

    async def newest(
        self, session_id: str, *, limit: int, before_seq: int | None = None
    ) -> list[Event]:
        """Newest first, older than `before_seq` when given."""
        before, args = ("", ()) if before_seq is None else (" AND seq < ?", (before_seq,))
        return await self._events(f"{before} ORDER BY seq DESC LIMIT ?", session_id, *args, limit)

    async def after(self, session_id: str, *, after_seq: int, limit: int) -> list[Event]:
        """Oldest first, strictly newer than `after_seq`."""
        return await self._events(" AND seq > ? ORDER BY seq LIMIT ?", session_id, after_seq, limit)
