"""Requests of agents (action approvals and questions) with their votes and chat messages."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from core.records.requests import OnLadder, Request, RequestStatus, RequestTally
from core.store.codec import when_required
from core.store.db import Database, Row
from core.store.decode import rows

_REQUEST = f"SELECT {rows.request.columns} FROM requests"


class Requests:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, request_id: str) -> Request | None:
        found = await self.db.fetchone(f"{_REQUEST} WHERE id = ?", (request_id,))
        return await self._complete(found) if found else None

    async def of_session(
        self, session_id: str, *, status: RequestStatus | None = None, limit: int = 100
    ) -> list[Request]:
        """A session's requests, oldest first (only those in `status` when given)."""
        sql, args = f"{_REQUEST} WHERE session_id = ?", [session_id]
        if status is not None:
            sql += " AND status = ?"
            args.append(status.value)
        found = await self.db.fetchall(f"{sql} ORDER BY created_at, id LIMIT ?", [*args, limit])
        return [await self._complete(r) for r in found]

    async def pending_in(self, workspace: str, *, limit: int = 100) -> list[Request]:
        """A workspace's pending requests, oldest first."""
        found = await self.db.fetchall(
            f"{_REQUEST} WHERE status = 'pending'"
            " AND session_id IN (SELECT id FROM sessions WHERE workspace = ?)"
            " ORDER BY created_at, id LIMIT ?",
            (workspace, limit),
        )
        return [await self._complete(r) for r in found]

    async def tally(
        self, workspace: str, *, since: datetime, until: datetime, channel_id: str | None = None
    ) -> RequestTally:
        """Requests created in (since, until], those settled in it by status, and how long the
        ones a person decided took (an expiry, or an approval on expiry, is nobody's decision)."""
        # From the requests of the window (their time indexes), each one's session by its key.
        scope = (
            "FROM requests r CROSS JOIN sessions s WHERE s.id = r.session_id AND s.workspace = ?"
        )
        args: list[Any] = [workspace]
        if channel_id is not None:
            scope += " AND s.channel_id = ?"
            args.append(channel_id)
        created = await self.db.fetchone(
            f"SELECT COUNT(*) {scope} AND r.created_at > ? AND r.created_at <= ?",
            [*args, since, until],
        )
        settled = await self.db.fetchall(
            f"SELECT r.status, r.created_at, r.decided_at, r.decided_by {scope}"
            " AND r.status <> 'pending' AND r.decided_at > ? AND r.decided_at <= ?",
            [*args, since, until],
        )
        return RequestTally(
            created=int(created[0]) if created else 0,
            settled=dict(Counter(str(r[0]) for r in settled)),
            latencies=[when_required(r[2]) - when_required(r[1]) for r in settled if r[3]],
        )

    async def due(self, now: datetime, *, limit: int = 100) -> list[Request]:
        """Pending requests whose time ran out at `now`, the oldest deadline first."""
        found = await self.db.fetchall(
            f"{_REQUEST} WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
            (now, limit),
        )
        return [await self._complete(r) for r in found]

    async def on_ladder(self, workspace: str, *, limit: int = 100) -> list[OnLadder]:
        """A workspace's pending requests with a deadline whose last reminder of this round is
        not sent yet, the nearest deadline first (round 2 once escalated)."""
        found = await self.db.fetchall(
            f"SELECT {rows.request.columns}, q.k,"
            " EXISTS (SELECT 1 FROM reminders r WHERE r.id = q.k || ':50') AS half FROM"
            " (SELECT *, 'auto_request:' || id || CASE WHEN escalated THEN ':2' ELSE ':1' END"
            " AS k FROM requests WHERE status = 'pending' AND expires_at IS NOT NULL"
            " AND session_id IN (SELECT id FROM sessions WHERE workspace = ?)) q"
            " WHERE NOT EXISTS (SELECT 1 FROM reminders r WHERE r.id = q.k || ':80')"
            " ORDER BY q.expires_at LIMIT ?",
            (workspace, limit),
        )
        return [OnLadder(await self._complete(r), r["k"], bool(r["half"])) for r in found]

    async def _complete(self, row: Row) -> Request:
        request = rows.request(row)
        votes = await self.db.fetchall(
            f"SELECT {rows.vote.columns} FROM request_votes WHERE request_id = ? ORDER BY at",
            (request.id,),
        )
        request.votes = [rows.vote(v) for v in votes]
        shown = await self.db.fetchall(
            f"SELECT {rows.request_message.columns} FROM request_messages WHERE request_id = ?"
            " ORDER BY platform, channel_id, message_ref",
            (request.id,),
        )
        request.messages = [rows.request_message(m) for m in shown]
        return request

    async def add_message(
        self, request_id: str, *, platform: str, channel_id: str, message_ref: str
    ) -> None:
        """Remember a chat message that shows the request (edited in place when it changes)."""
        await self.db.execute(
            "INSERT INTO request_messages (request_id, platform, channel_id, message_ref)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (request_id, platform, channel_id, message_ref),
        )
