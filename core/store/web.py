"""The web inbox's rows: one-time login links, browser sessions, and the listings its pages
read (what waits for a decision in a workspace, sessions by a keyset cursor)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.models import Role, Session, Status
from core.records.requests import RequestKind
from core.records.web import WebLogin, WebSession
from core.store.codec import loads, when, when_required
from core.store.db import Database, Row, Tx, marks
from core.store.decode import SESSION_COLUMNS, rows

_LINK = "token_hash, workspace, user_id, admin, created_at, expires_at, used_at"
_SESSION = "id_hash, workspace, user_id, admin, csrf, created_at, seen_at, expires_at, ended_at"
CHUNK = 500  # ids bound in one IN (…)
Cursor = tuple[datetime, int]  # (last_activity_at, ref) of the last session shown


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A pending request as the inbox first reads it: enough to say who may decide it."""

    id: str
    session: Session
    kind: RequestKind
    approvers: list[str]


def _login(row: Row) -> WebLogin:
    hash_, workspace, user_id, admin, created, expires, used = tuple(row)
    return WebLogin(hash_, workspace, user_id, bool(admin), when_required(created),
                    when_required(expires), when(used))  # fmt: skip


def _session(row: Row) -> WebSession:
    hash_, workspace, user_id, admin, csrf, created, seen, expires, ended = tuple(row)
    return WebSession(hash_, workspace, user_id, bool(admin), csrf, when_required(created),
                      when_required(seen), when_required(expires), when(ended))  # fmt: skip


class Web:
    """Sign-in rows (stored by digest only) and the web pages' listings."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def put_link(self, link: WebLogin) -> None:
        k = link
        await self.db.execute(
            f"INSERT INTO web_links ({_LINK}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (k.token_hash, k.workspace, k.user_id, k.admin, k.created_at, k.expires_at, None),
        )

    async def take_link(self, token_hash: str, *, now: datetime) -> WebLogin | None:
        """The link, marked used now, if it was unused and unexpired; else None. The guarded
        UPDATE makes two sign-ins with one link race for one row: exactly one takes it."""

        async def take(tx: Tx) -> WebLogin | None:
            taken = await tx.execute(
                "UPDATE web_links SET used_at = ?"
                " WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
                (now, token_hash, now),
            )
            if taken != 1:
                return None
            row = await tx.fetchone(f"SELECT {_LINK} FROM web_links WHERE token_hash = ?",
                                    (token_hash,))  # fmt: skip
            return _login(row) if row else None

        return await self.db.write(take, notify=False)

    async def put_session(self, s: WebSession) -> None:
        await self.db.execute(
            f"INSERT INTO web_sessions ({_SESSION}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s.id_hash, s.workspace, s.user_id, s.admin, s.csrf, s.created_at, s.seen_at,
             s.expires_at, None),
        )  # fmt: skip

    async def session(self, id_hash: str) -> WebSession | None:
        row = await self.db.fetchone(
            f"SELECT {_SESSION} FROM web_sessions WHERE id_hash = ?", (id_hash,)
        )
        return _session(row) if row else None

    async def seen(self, id_hash: str, *, at: datetime) -> None:
        await self.db.execute(
            "UPDATE web_sessions SET seen_at = ? WHERE id_hash = ?", (at, id_hash), notify=False
        )

    async def end(self, id_hash: str, *, at: datetime) -> None:
        await self.db.execute(
            "UPDATE web_sessions SET ended_at = ? WHERE id_hash = ? AND ended_at IS NULL",
            (at, id_hash),
            notify=False,
        )

    async def purge(self, *, now: datetime) -> int:
        """Forget links and sessions past their absolute deadline."""

        async def purge(tx: Tx) -> int:
            links = await tx.execute("DELETE FROM web_links WHERE expires_at <= ?", (now,))
            ended = await tx.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (now,))
            return links + ended

        return await self.db.write(purge, notify=False)

    async def pending_plans(self, workspace: str, *, limit: int) -> list[tuple[str, Session]]:
        """(id, session) of the workspace's pending plans, oldest first."""
        found = await self._pending("plans", "submitted_at", "", workspace, limit)
        return [(r[-1], rows.session(r)) for r in found]

    async def pending_requests(self, workspace: str, *, limit: int) -> list[PendingRequest]:
        """The workspace's pending requests (actions and questions), oldest first, with what
        says who may decide them (their kind and named approvers)."""
        found = await self._pending("requests", "created_at", "t.kind, t.approvers, ", workspace,
                                    limit)  # fmt: skip
        width = len(SESSION_COLUMNS.split(", "))
        return [
            PendingRequest(r[-1], rows.session(r), RequestKind(r[width]), loads(r[width + 1]))
            for r in found
        ]

    async def _pending(
        self, table: str, since: str, extra: str, workspace: str, limit: int
    ) -> list[Row]:
        session = ", ".join(f"s.{c}" for c in SESSION_COLUMNS.split(", "))
        return await self.db.fetchall(
            # CROSS JOIN: SQLite starts from the few pending rows (their partial index), not
            # from every session of the workspace (PostgreSQL plans the join as it sees fit).
            f"SELECT {session}, {extra}t.id FROM {table} t CROSS JOIN sessions s"
            f" WHERE s.id = t.session_id AND s.workspace = ? AND t.status = 'pending'"
            f" ORDER BY t.{since}, t.id LIMIT ?",
            (workspace, limit),
        )

    async def workspaces_of(
        self, session_ids: Sequence[str], request_ids: Sequence[str]
    ) -> set[str]:
        """The workspaces of these sessions and of these requests' sessions (by their keys)."""
        found: set[str] = set()
        for ids, sql in (
            (session_ids, "SELECT DISTINCT workspace FROM sessions WHERE id IN ({})"),
            (request_ids, "SELECT DISTINCT s.workspace FROM requests r JOIN sessions s"
                          " ON s.id = r.session_id WHERE r.id IN ({})"),
        ):  # fmt: skip
            unique = list(dict.fromkeys(ids))
            for start in range(0, len(unique), CHUNK):
                part = unique[start : start + CHUNK]
                found.update(
                    r[0] for r in await self.db.fetchall(sql.format(marks(len(part))), part)
                )
        return found

    async def roles(self, session_ids: Sequence[str], user_id: str) -> dict[str, Role]:
        """The role `user_id` holds as a member of each of these sessions (one query a
        CHUNK of sessions); a session they are not a member of is left out."""
        found: dict[str, Role] = {}
        ids = list(dict.fromkeys(session_ids))
        for start in range(0, len(ids), CHUNK):
            part = ids[start : start + CHUNK]
            for r in await self.db.fetchall(
                f"SELECT session_id, role FROM members WHERE user_id = ?"
                f" AND session_id IN ({marks(len(part))})",
                (user_id, *part),
            ):
                found[r[0]] = Role(r[1])
        return found

    async def sessions(
        self,
        workspace: str,
        *,
        statuses: Sequence[Status] | None,
        owner_id: str | None,
        mode: str | None,
        channel_id: str | None,
        after: Cursor | None,
        limit: int,
    ) -> list[Session]:
        """A page of sessions, most recently active first, after `after` (a keyset cursor:
        stable while sessions are added, and as fast on the last page as on the first)."""
        where = ["workspace = ?"]
        args: list[Any] = [workspace]
        if statuses is not None:
            where.append(f"status IN ({marks(len(statuses))})" if statuses else "FALSE")
            args.extend(s.value for s in statuses)
        for column, value in (("owner_id", owner_id), ("mode", mode), ("channel_id", channel_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if after is not None:
            where.append("(last_activity_at < ? OR (last_activity_at = ? AND ref < ?))")
            args.extend([after[0], after[0], after[1]])
        found = await self.db.fetchall(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE {' AND '.join(where)}"
            " ORDER BY last_activity_at DESC, ref DESC LIMIT ?",
            (*args, limit),
        )
        return [rows.session(r) for r in found]
