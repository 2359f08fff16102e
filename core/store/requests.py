"""Requests of agents (action approvals and questions) with their votes and chat messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

from core.models import Session
from core.records.requests import OnLadder, Request, RequestStatus, RequestTally
from core.store.codec import loads, when_required
from core.store.db import Database, Dialect
from core.store.decode import aliased, as_json_values, rows
from core.store.sessions import with_session

_VOTES, _MESSAGES = as_json_values(rows.vote), as_json_values(rows.request_message)


@lru_cache(maxsize=4)
def request_select(dialect: Dialect, *, alias: str = "requests") -> str:
    """The request columns of `alias` and, after them, its votes and chat messages, each as one
    JSON array (`request_of` reads them): a whole request in one query."""
    votes = dialect.rows_of(_VOTES, f"FROM request_votes WHERE request_id = {alias}.id")
    shown = dialect.rows_of(_MESSAGES, f"FROM request_messages WHERE request_id = {alias}.id")
    return f"{aliased(rows.request, alias)}, {votes}, {shown}"


def request_of(row: Sequence[Any]) -> Request:
    """A request from a row selected with `request_select` (from its first column)."""
    request = rows.request(row)
    votes, shown = (loads(v) or [] for v in row[rows.request.width :][:2])
    request.votes = sorted(map(rows.vote, votes), key=attrgetter("at"))
    request.messages = sorted(
        map(rows.request_message, shown), key=attrgetter("platform", "channel_id", "message_ref")
    )
    return request


class Requests:
    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def _request(self) -> str:
        return f"SELECT {request_select(self.db.dialect)} FROM requests"

    async def get(self, request_id: str) -> Request | None:
        found = await self.db.fetchone(f"{self._request} WHERE id = ?", (request_id,))
        return request_of(found) if found else None

    async def with_session(self, request_id: str) -> tuple[Session, Request] | None:
        """A request and its session, read together (one query: one snapshot of both)."""
        select = request_select(self.db.dialect, alias="r")
        return await with_session(self.db, select, "requests", request_id, request_of)

    async def of_session(
        self, session_id: str, *, status: RequestStatus | None = None, limit: int = 100
    ) -> list[Request]:
        """A session's requests, oldest first (only those in `status` when given)."""
        sql, args = f"{self._request} WHERE session_id = ?", [session_id]
        if status is not None:
            sql += " AND status = ?"
            args.append(status.value)
        found = await self.db.fetchall(f"{sql} ORDER BY created_at, id LIMIT ?", [*args, limit])
        return [request_of(r) for r in found]

    async def pending_in(self, workspace: str, *, limit: int = 100) -> list[Request]:
        """A workspace's pending requests, oldest first."""
        found = await self.db.fetchall(
            f"{self._request} WHERE status = 'pending'"
            " AND session_id IN (SELECT id FROM sessions WHERE workspace = ?)"
            " ORDER BY created_at, id LIMIT ?",
            (workspace, limit),
        )
        return [request_of(r) for r in found]

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
            f"{self._request} WHERE status = 'pending' AND expires_at <= ?"
            " ORDER BY expires_at LIMIT ?",
            (now, limit),
        )
        return [request_of(r) for r in found]

    async def on_ladder(self, workspace: str, *, limit: int = 100) -> list[OnLadder]:
        """A workspace's pending requests with a deadline whose last reminder of this round is
        not sent yet, the nearest deadline first (round 2 once escalated)."""
        found = await self.db.fetchall(
            f"SELECT {request_select(self.db.dialect, alias='q')}, q.k,"
            " EXISTS (SELECT 1 FROM reminders r WHERE r.id = q.k || ':50') AS half FROM"
            " (SELECT *, 'auto_request:' || id || CASE WHEN escalated THEN ':2' ELSE ':1' END"
            " AS k FROM requests WHERE status = 'pending' AND expires_at IS NOT NULL"
            " AND session_id IN (SELECT id FROM sessions WHERE workspace = ?)) q"
            " WHERE NOT EXISTS (SELECT 1 FROM reminders r WHERE r.id = q.k || ':80')"
            " ORDER BY q.expires_at LIMIT ?",
            (workspace, limit),
        )
        return [OnLadder(request_of(r), r["k"], bool(r["half"])) for r in found]

    async def add_message(
        self, request_id: str, *, platform: str, channel_id: str, message_ref: str
    ) -> None:
        """Remember a chat message that shows the request (edited in place when it changes)."""
        await self.db.execute(
            "INSERT INTO request_messages (request_id, platform, channel_id, message_ref)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (request_id, platform, channel_id, message_ref),
        )
