"""Sessions, their members, and per-workspace rows (settings, ref counters, stats)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from core.models import OPEN_STATUSES, Member, Session, Status
from core.store.aggregates import median_seconds
from core.store.codec import loads, ref_key, sql_in
from core.store.db import Database, marks
from core.store.decode import SESSION_COLUMNS, aliased, rows
from core.store.writes import ALLOCATE_REF

T = TypeVar("T")

_S = f"SELECT {SESSION_COLUMNS} FROM sessions"
_OPEN = sql_in(OPEN_STATUSES)


@dataclass(slots=True)
class SessionPage:
    sessions: list[Session]
    total: int


@dataclass(slots=True)
class StatsRows:
    by_status: dict[str, int] = field(default_factory=dict)
    by_mode: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    average_iterations: float = 0.0
    median_duration: timedelta | None = None  # of the ended ones


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


class Sessions:
    """Session rows and their members."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, workspace: str, ref: str) -> Session | None:
        """A session of `workspace` by ref number or full id."""
        key = ref_key(ref)
        by = "ref" if isinstance(key, int) else "id"
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
        deleted = await self.db.execute(
            "DELETE FROM sessions WHERE id = ? AND version = ?", (session_id, version)
        )
        return deleted == 1

    async def members(self, session_id: str) -> list[Member]:
        found = await self.db.fetchall(
            f"SELECT {rows.member.columns} FROM members WHERE session_id = ?"
            " ORDER BY added_at NULLS FIRST, user_id",
            (session_id,),
        )
        return [rows.member(r) for r in found]

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
    """Per-workspace rows: settings, and what the workspace's sessions add up to."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def settings(self, workspace: str) -> dict[str, Any]:
        row = await self.db.fetchone(
            "SELECT settings FROM workspaces WHERE workspace = ?", (workspace,)
        )
        return dict(loads(row["settings"])) if row else {}

    async def allocate_ref(self, workspace: str) -> int:
        """Reserve the workspace's next session ref (committed on its own: a start that then
        fails leaves a gap, and the workspace row is not held while the session is written)."""
        row = await self.db.write_row(ALLOCATE_REF, (workspace,), notify=False)
        assert row is not None
        return int(row[0])

    async def names(self) -> list[str]:
        """Every workspace that has started a session or stored settings."""
        found = await self.db.fetchall("SELECT workspace FROM workspaces ORDER BY workspace")
        return [r[0] for r in found]

    async def stats(self, workspace: str, since: datetime) -> StatsRows:
        """What the workspace's sessions created since `since` add up to, in the database:
        one grouped scan of sessions_by_created for the counts, and the median duration of
        the ended ones read as its one or two middle values (no row per session comes back)."""
        args = (workspace, since)
        scope = "FROM sessions WHERE workspace = ? AND created_at >= ?"
        grouped = await self.db.fetchall(
            f"SELECT status, mode, outcome, COUNT(*), SUM(iterations) {scope}"
            " GROUP BY status, mode, outcome",
            args,
        )
        by_status: Counter[str] = Counter()
        by_mode: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        for status, mode, outcome, count, _ in grouped:
            by_status[status] += count
            by_mode[mode] += count
            if outcome is not None:
                outcomes[outcome] += count
        total = sum(by_status.values())
        iterations = sum(int(r[4] or 0) for r in grouped)
        took = self.db.dialect.seconds_between("created_at", "ended_at")
        return StatsRows(
            by_status=dict(by_status),
            by_mode=dict(by_mode),
            average_iterations=iterations / total if total else 0.0,
            outcomes=dict(outcomes),
            median_duration=await median_seconds(
                self.db, took, f"{scope} AND outcome IS NOT NULL", args
            ),
        )

    async def per_day(self, workspace: str, since: datetime) -> list[tuple[str, str | None, int]]:
        """(UTC day `YYYY-MM-DD`, outcome, count) since `since`, in one grouped query: an outcome
        of None counts sessions started that day, any other the sessions that ended so."""
        d = self.db.dialect
        started = f"substr({d.as_text('created_at')}, 1, 10)"
        ended = f"substr({d.as_text('ended_at')}, 1, 10)"
        found = await self.db.fetchall(
            "SELECT day, outcome, COUNT(*) FROM ("
            f" SELECT {started} AS day, NULL AS outcome FROM sessions"
            " WHERE workspace = ? AND created_at >= ?"
            f" UNION ALL SELECT {ended} AS day, outcome FROM sessions"
            " WHERE workspace = ? AND ended_at >= ? AND outcome IS NOT NULL"
            ") AS days GROUP BY day, outcome",
            (workspace, since, workspace, since),
        )
        # In Python: the backends sort NULL (a day's starts) at opposite ends.
        return sorted(
            ((str(r[0]), r[1], int(r[2])) for r in found), key=lambda r: (r[0], r[1] or "")
        )
