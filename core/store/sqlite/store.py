"""SqliteStore: the Store contract on one SQLite file (or `:memory:`)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from core.models import (
    OPEN_STATUSES,
    Event,
    Member,
    OutboxRow,
    Plan,
    PlanMessageRef,
    PlanModification,
    Session,
    Status,
)
from core.store import migrations, ops
from core.store.base import SessionPage, StatsRows
from core.store.codec import loads, ref_key, sql_in, ts
from core.store.lifecycle import StoreLifecycle
from core.store.sqlite import rows
from core.store.sqlite.copy import SqliteCopy
from core.store.sqlite.engine import SqliteEngine
from core.store.sqlite.history import SqliteHistory
from core.store.sqlite.installations import SqliteInstallations
from core.store.sqlite.jobs import SqliteJobs
from core.store.sqlite.lock import migrating
from core.store.sqlite.telemetry import SqliteTelemetry
from core.store.sqlite.tokens import SqliteTokens
from core.store.sqlite.writes import apply_all
from core.store.telemetry import PENDING_BY_WORKSPACE

_log = logging.getLogger(__name__)

_S = f"SELECT {rows.SESSION_COLUMNS} FROM sessions"


def _apply_missing(conn: sqlite3.Connection) -> list[str]:
    done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
    applied = []
    for m in migrations.load("sqlite"):
        if m.version in done:
            continue
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{m.sql}\n"
                f"INSERT INTO schema_migrations VALUES ({m.version}, '{m.name}',"
                " strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")  # never leave the write lock held after a failure
            raise
        applied.append(f"{m.version:04d}_{m.name}")
    return applied


def sqlite_path(url: str) -> str:
    """`sqlite:///rel.db` → `rel.db`, `sqlite:////abs.db` → `/abs.db`, `:memory:` kept."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a sqlite URL: {url!r}")
    path = url[len("sqlite:///") :]
    if path == ":memory:":
        return "file:sessionbot-memory?mode=memory&cache=private"
    return path


class SqliteStore(
    SqliteHistory,
    SqliteJobs,
    SqliteInstallations,
    SqliteTokens,
    SqliteTelemetry,
    SqliteCopy,
    StoreLifecycle,
):
    """Sessions, plans, events and the outbox in SQLite, written by one group-committing writer."""

    backend = "sqlite"

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._listeners: list[Callable[[], None]] = []
        self.engine = SqliteEngine(self.path, on_commit=self._committed)

    # -- lifecycle ---------------------------------------------------------------------------

    async def schema_status(self) -> tuple[int, int]:
        """(version of the database, newest version this code knows)."""
        latest = len(migrations.load("sqlite"))

        def read(conn: sqlite3.Connection) -> int:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            return int(row[0] or 0)

        return await self.engine.run_raw(read), latest

    async def migrate(self) -> list[str]:
        """Apply every migration the database lacks, each in its own transaction.

        Check-and-apply runs under the file's migration lock (lock.py): a second process
        opening the same new file waits, then finds the migrations applied.
        """

        def run(conn: sqlite3.Connection) -> list[str]:
            if self.engine.memory:
                return _apply_missing(conn)
            with migrating(self.path):
                return _apply_missing(conn)

        applied = await self.engine.run_raw(run)
        for name in applied:
            _log.info("applied migration %s", name)
        return applied

    # -- writes ------------------------------------------------------------------------------

    async def apply(self, unit: Sequence[ops.Op]) -> list[Any]:
        """Apply a unit of work atomically; returns each op's result."""
        return await self.engine.write(lambda conn: apply_all(conn, unit))

    # -- sessions ----------------------------------------------------------------------------

    async def session(self, workspace: str, ref: str) -> Session | None:
        """A session of `workspace` by ref number or full id."""
        arg = ref_key(ref)
        sql = f"{_S} WHERE workspace = ? AND id = ?"
        if isinstance(arg, int):
            sql = f"{_S} WHERE workspace = ? AND ref = ?"
        row = await self.engine.fetchone(sql, (workspace, arg))
        return rows.session(row) if row else None

    async def session_by_id(self, session_id: str) -> Session | None:
        row = await self.engine.fetchone(f"{_S} WHERE id = ?", (session_id,))
        return rows.session(row) if row else None

    async def active_session(self, workspace: str, channel_id: str, user_id: str) -> Session | None:
        """The user's most recently active open session in the channel."""
        row = await self.engine.fetchone(
            f"{_S} WHERE workspace = ? AND channel_id = ? AND owner_id = ?"
            f" AND status IN {sql_in(OPEN_STATUSES)}"
            " ORDER BY last_activity_at DESC LIMIT 1",
            (workspace, channel_id, user_id),
        )
        return rows.session(row) if row else None

    async def list_sessions(
        self,
        workspace: str,
        *,
        statuses: Sequence[Status] | None,
        owner_id: str | None,
        mode: str | None,
        limit: int,
        offset: int,
    ) -> SessionPage:
        where, args = ["workspace = ?"], [workspace]
        if statuses is not None:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args.extend(s.value for s in statuses)
        if owner_id is not None:
            where.append("owner_id = ?")
            args.append(owner_id)
        if mode is not None:
            where.append("mode = ?")
            args.append(mode)
        clause = " AND ".join(where)
        found = await self.engine.fetchall(
            f"SELECT {rows.SESSION_COLUMNS},"
            f" (SELECT COUNT(*) FROM sessions WHERE {clause}) AS total FROM sessions"
            f" WHERE {clause} ORDER BY last_activity_at DESC, ref DESC LIMIT ? OFFSET ?",
            (*args, *args, limit, offset),
        )
        if found or offset == 0:
            return SessionPage([rows.session(r) for r in found], found[0]["total"] if found else 0)
        total = await self.engine.fetchone(f"SELECT COUNT(*) FROM sessions WHERE {clause}", args)
        return SessionPage([], int(total[0]) if total else 0)

    async def delete_session(self, session_id: str, *, version: int) -> bool:
        """Delete a session and (by cascade) every row of it, if it is unchanged."""
        return await self.engine.write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM sessions WHERE id = ? AND version = ?", (session_id, version)
                ).rowcount
                == 1
            )
        )

    async def members(self, session_id: str) -> list[Member]:
        found = await self.engine.fetchall(
            "SELECT * FROM members WHERE session_id = ? ORDER BY added_at, user_id", (session_id,)
        )
        return [rows.member(r) for r in found]

    # -- plans -------------------------------------------------------------------------------

    async def current_plan(self, session_id: str) -> Plan | None:
        row = await self.engine.fetchone(
            "SELECT * FROM plans WHERE session_id = ? ORDER BY version DESC LIMIT 1", (session_id,)
        )
        return await self._complete_plan(row)

    async def plan(self, plan_id: str) -> Plan | None:
        row = await self.engine.fetchone("SELECT * FROM plans WHERE id = ?", (plan_id,))
        return await self._complete_plan(row)

    async def _complete_plan(self, row: sqlite3.Row | None) -> Plan | None:
        if row is None:
            return None
        plan = rows.plan(row)
        items = await self.engine.fetchall(
            "SELECT * FROM plan_items WHERE plan_id = ? ORDER BY position", (plan.id,)
        )
        plan.items = [rows.plan_item(r) for r in items]
        approvals = await self.engine.fetchall(
            "SELECT * FROM approvals WHERE plan_id = ? ORDER BY at", (plan.id,)
        )
        plan.approvals = [rows.approval(r) for r in approvals]
        messages = await self.engine.fetchall(
            "SELECT * FROM plan_messages WHERE plan_id = ?", (plan.id,)
        )
        plan.messages = [
            PlanMessageRef(r["platform"], r["channel_id"], r["message_ref"]) for r in messages
        ]
        return plan

    async def modifications(self, plan_id: str) -> list[PlanModification]:
        found = await self.engine.fetchall(
            "SELECT * FROM plan_modifications WHERE plan_id = ? ORDER BY created_at", (plan_id,)
        )
        return [rows.modification(r) for r in found]

    async def add_plan_message(
        self, plan_id: str, *, platform: str, channel_id: str, message_ref: str
    ) -> None:
        await self.engine.write(
            lambda conn: conn.execute(
                "INSERT INTO plan_messages VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (plan_id, platform, channel_id, message_ref),
            )
        )

    async def set_modification_result(
        self, modification_id: str, *, now: datetime, error: str | None
    ) -> None:
        await self.engine.write(
            lambda conn: conn.execute(
                "UPDATE plan_modifications SET processed = ?, processed_at = ?, error = ?"
                " WHERE id = ?",
                (int(error is None), ts(now) if error is None else None, error, modification_id),
            )
        )

    # -- events ------------------------------------------------------------------------------

    async def events(
        self, session_id: str, *, limit: int, before_seq: int | None = None
    ) -> list[Event]:
        """Newest first."""
        if before_seq is None:
            sql = f"SELECT {rows.EVENT_COLUMNS} FROM events WHERE session_id = ?"
            sql += " ORDER BY seq DESC LIMIT ?"
            args: tuple[Any, ...] = (session_id, limit)
        else:
            sql = f"SELECT {rows.EVENT_COLUMNS} FROM events WHERE session_id = ? AND seq < ?"
            sql += " ORDER BY seq DESC LIMIT ?"
            args = (session_id, before_seq, limit)
        return [rows.event(r) for r in await self.engine.fetchall(sql, args)]

    # -- workspace settings ------------------------------------------------------------------

    async def settings(self, workspace: str) -> dict[str, Any]:
        row = await self.engine.fetchone(
            "SELECT settings FROM workspaces WHERE workspace = ?", (workspace,)
        )
        return dict(loads(row["settings"])) if row else {}

    # -- stats -------------------------------------------------------------------------------

    async def stats(self, workspace: str, since: datetime) -> StatsRows:
        since_text = ts(since)
        by_status = await self.engine.fetchall(
            "SELECT status, COUNT(*) FROM sessions WHERE workspace = ? AND created_at >= ?"
            " GROUP BY status",
            (workspace, since_text),
        )
        by_mode = await self.engine.fetchall(
            "SELECT mode, COUNT(*) FROM sessions WHERE workspace = ? AND created_at >= ?"
            " GROUP BY mode",
            (workspace, since_text),
        )
        avg = await self.engine.fetchone(
            "SELECT AVG(iterations) FROM sessions WHERE workspace = ? AND created_at >= ?",
            (workspace, since_text),
        )
        ended = await self.engine.fetchall(
            "SELECT outcome, created_at, ended_at FROM sessions WHERE workspace = ?"
            " AND created_at >= ? AND outcome IS NOT NULL",
            (workspace, since_text),
        )
        outcomes: dict[str, int] = {}
        for row in ended:
            outcomes[row[0]] = outcomes.get(row[0], 0) + 1
        return StatsRows(
            by_status={r[0]: r[1] for r in by_status},
            by_mode={r[0]: r[1] for r in by_mode},
            average_iterations=float(avg[0] or 0.0) if avg else 0.0,
            outcomes=outcomes,
            durations=[_span(r[1], r[2]) for r in ended],
        )

    async def approval_latencies(
        self, workspace: str, *, since: datetime, until: datetime, channel_id: str | None = None
    ) -> list[timedelta]:
        """Submission-to-decision times of the plans a person decided in (since, until]."""
        sql = (
            "SELECT p.submitted_at, p.decided_at FROM plans p JOIN sessions s"
            " ON s.id = p.session_id WHERE s.workspace = ? AND p.decided_by IS NOT NULL"
            " AND p.decided_at > ? AND p.decided_at <= ?"
        )
        args: list[Any] = [workspace, ts(since), ts(until)]
        if channel_id is not None:
            sql += " AND s.channel_id = ?"
            args.append(channel_id)
        return [_span(r[0], r[1]) for r in await self.engine.fetchall(sql, tuple(args))]

    # -- inbound dedupe ----------------------------------------------------------------------

    async def claim_inbound(self, key: str, now: datetime) -> bool:
        """True the first time a delivery key is seen; False for a redelivery."""

        def claim(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT INTO inbound_dedupe (key, seen_at) VALUES (?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (key, ts(now)),
            )
            return cursor.rowcount == 1

        return await self.engine.write(claim)

    async def purge_inbound(self, before: datetime) -> int:
        return await self.engine.write(
            lambda conn: (
                conn.execute("DELETE FROM inbound_dedupe WHERE seen_at < ?", (ts(before),)).rowcount
            )
        )

    # -- outbox ------------------------------------------------------------------------------

    async def claim_outbox(
        self, *, workspaces: Sequence[str], now: datetime, limit: int, lease: timedelta
    ) -> list[OutboxRow]:
        """Lease up to `limit` due chat rows (not webhooks: `claim_webhook_rows`) whose workspace
        starts with one of `workspaces`."""
        prefix = " OR ".join("workspace LIKE ?" for _ in workspaces) or "0"
        patterns = [f"{w}%" for w in workspaces]

        def claim(conn: sqlite3.Connection) -> list[OutboxRow]:
            found = conn.execute(
                f"SELECT * FROM outbox WHERE status = 'pending' AND kind != 'webhook'"
                f" AND next_attempt_at <= ?"
                f" AND (claimed_until IS NULL OR claimed_until <= ?) AND ({prefix})"
                " ORDER BY next_attempt_at, rowid LIMIT ?",
                (ts(now), ts(now), *patterns, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox SET claimed_until = ? WHERE id = ?",
                [(ts(now + lease), r["id"]) for r in found],
            )
            return [rows.outbox(r) for r in found]

        return await self.engine.write(claim, notify=False)  # a lease adds nothing to deliver

    async def outbox_delivered(self, row_id: str, *, now: datetime, result_ref: str | None) -> None:
        await self.engine.write(
            lambda conn: conn.execute(
                "UPDATE outbox SET status = 'delivered', delivered_at = ?, result_ref = ?,"
                " attempts = attempts + 1, claimed_until = NULL, last_error = NULL WHERE id = ?",
                (ts(now), result_ref, row_id),
            ),
            notify=False,
        )

    async def outbox_failed(
        self, row_id: str, *, error: str, next_attempt_at: datetime, dead: bool
    ) -> None:
        await self.engine.write(
            lambda conn: conn.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?,"
                " next_attempt_at = ?, claimed_until = NULL WHERE id = ?",
                ("dead" if dead else "pending", error[:1000], ts(next_attempt_at), row_id),
            ),
            notify=False,  # a retry is due later: the poll finds it
        )

    async def outbox_counts(self) -> dict[str, int]:
        found = await self.engine.fetchall(
            "SELECT status, COUNT(*) FROM outbox WHERE status != 'delivered' GROUP BY status"
        )
        counts = {"pending": 0, "dead": 0}
        counts.update({r[0]: r[1] for r in found})
        return counts

    async def outbox_pending_by_workspace(self) -> dict[str, int]:
        """Chat notices still to deliver, per workspace (see core/waiting.py)."""
        found = await self.engine.fetchall(PENDING_BY_WORKSPACE)
        return {str(r[0]): int(r[1]) for r in found}

    async def outbox_rows(self, *, session_id: str) -> list[OutboxRow]:
        found = await self.engine.fetchall(
            "SELECT * FROM outbox WHERE session_id = ? ORDER BY rowid", (session_id,)
        )
        return [rows.outbox(r) for r in found]

    async def outbox_is_pending(self, dedupe_key: str) -> bool:
        row = await self.engine.fetchone(
            "SELECT 1 FROM outbox WHERE dedupe_key = ? AND status = 'pending'", (dedupe_key,)
        )
        return row is not None

    async def set_thread_ref(self, session_id: str, thread_ref: str) -> None:
        """Remember the session card's message as the session's thread (first one wins)."""
        await self.engine.write(
            lambda conn: conn.execute(
                "UPDATE sessions SET thread_ref = ? WHERE id = ? AND thread_ref IS NULL",
                (thread_ref, session_id),
            )
        )

    # -- operations --------------------------------------------------------------------------

    async def integrity_problems(self) -> list[str]:
        """Problems found by integrity_check and foreign_key_check (empty when healthy)."""

        def check(conn: sqlite3.Connection) -> list[str]:
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
            problems += [
                f"foreign key: {r[0]} row {r[1]} -> {r[2]}"
                for r in conn.execute("PRAGMA foreign_key_check")
            ]
            return problems

        return await self.engine.run_raw(check)


def _span(start: str, end: str) -> timedelta:
    return datetime.fromisoformat(end) - datetime.fromisoformat(start)
