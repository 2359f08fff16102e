"""Sessions, their members, and per-workspace rows (settings, ref counters)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from core.models import OPEN_STATUSES, Member, Session, Status
from core.store import claims, wakes
from core.store.codec import loads, ref_key, sql_in
from core.store.db import Database, Tx, marks
from core.store.decode import SESSION_COLUMNS, aliased, rows
from core.store.groups import Grouper
from core.store.tallies import counted_in
from core.store.writes import allocating_refs

T = TypeVar("T")

_S = f"SELECT {SESSION_COLUMNS} FROM sessions"
_OPEN = sql_in(OPEN_STATUSES)


@dataclass(slots=True)
class SessionPage:
    sessions: list[Session]
    total: int


async def with_session(
    db: Database, select: str, table: str, record_id: str, read: Callable[[Sequence[Any]], T]
) -> tuple[Session, T] | None:
    """A record of `table` (its columns `select`, aliased `r`, made by `read`) and its session,
    read together in one query: one snapshot of both."""
    found = await db.fetchone(
        f"SELECT {aliased(rows.session, 's')}, {select} FROM {table} r"
        " JOIN sessions s ON s.id = r.session_id WHERE r.id = ?",
        (record_id,),
    )
    if found is None:
        return None
    values, width = list(found), rows.session.width
    return rows.session(values[:width]), read(values[width:])


def ref_column(ref: str) -> tuple[str, int | str]:
    """The column a session `ref` names it by (`ref` for a number, else `id`) and its value."""
    key = ref_key(ref)
    return ("ref" if isinstance(key, int) else "id"), key


_NEVER = datetime.min.replace(tzinfo=UTC)


def members_in_order(members: Iterable[Member]) -> list[Member]:
    """A session's members as every read lists them: those with no `added_at` first, then by
    `added_at`, then by user id (compared as text, the same on both backends)."""
    return sorted(members, key=lambda m: (m.added_at is not None, m.added_at or _NEVER, m.user_id))


class Sessions:
    """Session rows and their members."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, workspace: str, ref: str) -> Session | None:
        """A session of `workspace` by ref number or full id."""
        by, key = ref_column(ref)
        row = await self.db.fetchone(f"{_S} WHERE workspace = ? AND {by} = ?", (workspace, key))
        return rows.session(row) if row else None

    async def by_id(self, session_id: str) -> Session | None:
        row = await self.db.fetchone(f"{_S} WHERE id = ?", (session_id,))
        return rows.session(row) if row else None

    async def active(self, workspace: str, channel_id: str, user_id: str) -> Session | None:
        """The user's most recently active open session in the channel."""
        row = await self.db.fetchone(
            f"{_S} WHERE workspace = ? AND channel_id = ? AND owner_id = ?"
            f" AND status IN {_OPEN} ORDER BY last_activity_at DESC LIMIT 1",
            (workspace, channel_id, user_id),
        )
        return rows.session(row) if row else None

    async def page(
        self,
        workspace: str,
        *,
        statuses: Sequence[Status] | None,
        owner_id: str | None,
        mode: str | None,
        limit: int,
        offset: int,
    ) -> SessionPage:
        """One page of a workspace's sessions, most recently active first, and the total."""
        where, args = ["workspace = ?"], [workspace]
        if statuses is not None:
            where.append(f"status IN ({marks(len(statuses))})" if statuses else "FALSE")
            args.extend(s.value for s in statuses)
        for column, value in (("owner_id", owner_id), ("mode", mode)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        clause = " AND ".join(where)
        # A scalar count rather than COUNT(*) OVER (): the window makes SQLite read every
        # matching row before the LIMIT (half the speed of this hot listing).
        found = await self.db.fetchall(
            f"SELECT {SESSION_COLUMNS}, (SELECT COUNT(*) FROM sessions WHERE {clause}) AS total"
            f" FROM sessions WHERE {clause} ORDER BY last_activity_at DESC, ref DESC"
            " LIMIT ? OFFSET ?",
            (*args, *args, limit, offset),
        )
        if found or offset == 0:
            return SessionPage([rows.session(r) for r in found], found[0]["total"] if found else 0)
        total = await self.db.fetchone(f"SELECT COUNT(*) FROM sessions WHERE {clause}", args)
        return SessionPage([], int(total[0]) if total else 0)

    async def delete(self, session_id: str, *, version: int) -> bool:
        """Delete a session and (by cascade) every row of it, if it is unchanged."""
        return await delete_session(self.db, session_id, version)

    async def members(self, session_id: str) -> list[Member]:
        found = await self.db.fetchall(
            f"SELECT {rows.member.columns} FROM members WHERE session_id = ?", (session_id,)
        )
        return members_in_order(map(rows.member, found))

    async def set_thread_ref(self, session_id: str, thread_ref: str) -> None:
        """Remember the session card's message as the session's thread (first one wins)."""
        await self.db.execute(
            "UPDATE sessions SET thread_ref = ? WHERE id = ? AND thread_ref IS NULL",
            (thread_ref, session_id),
        )

    async def counts(self) -> dict[str, int]:
        """Sessions by status across every workspace (cheap enough for every metrics scrape)."""
        found = await self.db.fetchall("SELECT status, COUNT(*) FROM sessions GROUP BY status")
        return {str(row[0]): int(row[1]) for row in found}


class Workspaces:
    """Per-workspace rows: settings and ref counters (what they add up to: store.tallies)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        #: on PostgreSQL, refs reserved in groups (core/store/groups.py; set by the store)
        self.grouped: Grouper[str, int] | None = None

    async def settings(self, workspace: str) -> dict[str, Any]:
        row = await self.db.fetchone(
            "SELECT settings FROM workspaces WHERE workspace = ?", (workspace,)
        )
        return dict(loads(row["settings"])) if row else {}

    async def allocate_ref(self, workspace: str) -> int:
        """Reserve the workspace's next session ref, committed on its own: a start that then
        fails leaves a gap, and the workspace row is not held while the session is written
        (what `Store.new_session` does where rows are locked; SQLite's single writer reserves
        it inside the start's unit instead)."""
        if self.grouped is not None and claims.pending() is None:
            return await self.grouped.submit(workspace)
        return await self.reserve(workspace)

    async def reserve(self, workspace: str) -> int:
        """`allocate_ref` in a statement of its own (what a group of one does too)."""
        row = await self.db.write_row(*allocating_refs(workspace), notify=False)
        assert row is not None
        return int(row[0])

    async def names(self) -> list[str]:
        """Every workspace that has started a session or stored settings."""
        found = await self.db.fetchall("SELECT workspace FROM workspaces ORDER BY workspace")
        return [r[0] for r in found]


async def delete_session(db: Database, session_id: str, version: int, where: str = "") -> bool:
    """Delete a session and (by cascade) every row of it, if it is unchanged (and `where`,
    more conditions on it, holds); the commit names the days it counted in (`wakes.day`)."""

    async def unit(tx: Tx) -> bool:
        counted = await counted_in(tx, [session_id])
        sql = f"DELETE FROM sessions WHERE id = ? AND version = ?{where}"
        if counted is None or await tx.execute(sql, (session_id, version)) != 1:
            return False
        for workspace, days in counted.items():
            for day in days:
                tx.wake(wakes.day(workspace, day))
        return True

    return await db.write(unit)
