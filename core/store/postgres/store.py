"""PostgresStore: the Store contract on PostgreSQL through an asyncpg pool."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from asyncpg import Connection, Record

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
from core.store.codec import loads, ref_key, sql_in
from core.store.lifecycle import StoreLifecycle
from core.store.postgres import rows
from core.store.postgres.copy import PgCopy
from core.store.postgres.engine import Observer, PgEngine
from core.store.postgres.history import PgHistory
from core.store.postgres.installations import PgInstallations
from core.store.postgres.jobs import PgJobs
from core.store.postgres.tokens import PgTokens
from core.store.postgres.webhooks import lease_outbox
from core.store.postgres.writes import apply_all
from core.store.telemetry import PENDING_BY_WORKSPACE

_log = logging.getLogger(__name__)

_S = f"SELECT {rows.SESSION_COLUMNS} FROM sessions"
# Held (session-level advisory lock) while migrating, so replicas starting together take turns.
MIGRATION_LOCK = 0x5E5510B07
_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
    " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)


class PostgresStore(PgHistory, PgJobs, PgInstallations, PgTokens, PgCopy, StoreLifecycle):
    """Sessions, plans, events and the outbox in PostgreSQL, shared by any number of replicas."""

    backend = "postgres"

    def __init__(self, url: str) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("not a PostgreSQL URL")
        self.url = url
        self._listeners: list[Callable[[], None]] = []
        self.engine = PgEngine(url, on_commit=self._committed)

    # -- lifecycle ---------------------------------------------------------------------------

    async def schema_status(self) -> tuple[int, int]:
        """(version of the database, newest version this code knows)."""
        latest = len(migrations.load("postgres"))

        async def read(conn: Connection) -> int:
            if not await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
                return 0
            return int(
                await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            )

        return await self.engine.run_raw(read), latest

    async def migrate(self) -> list[str]:
        """Apply every migration the database lacks, each in its own transaction."""

        async def run(conn: Connection) -> list[str]:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute(_SCHEMA_TABLE)
                done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                applied = []
                for m in migrations.load("postgres"):
                    if m.version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(m.sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            m.version, m.name,
                        )  # fmt: skip
                    applied.append(f"{m.version:04d}_{m.name}")
                return applied
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

        applied = await self.engine.run_raw(run)
        for name in applied:
            _log.info("applied migration %s", name)
        return applied

    # -- writes ------------------------------------------------------------------------------

    async def apply(self, unit: Sequence[ops.Op]) -> list[Any]:
        """Apply a unit of work atomically; returns each op's result."""

        async def run(conn: Connection) -> list[Any]:
            return await apply_all(conn, unit)

        return await self.engine.write(run)

    # -- sessions ----------------------------------------------------------------------------

    async def session(self, workspace: str, ref: str) -> Session | None:
        """A session of `workspace` by ref number or full id."""
        key = ref_key(ref)
        if isinstance(key, int):
            row = await self.engine.fetchone(
                f"{_S} WHERE workspace = $1 AND ref = $2", (workspace, key)
            )
        else:
            row = await self.engine.fetchone(
                f"{_S} WHERE workspace = $1 AND id = $2", (workspace, ref)
            )
        return rows.session(row) if row else None

    async def session_by_id(self, session_id: str) -> Session | None:
        row = await self.engine.fetchone(f"{_S} WHERE id = $1", (session_id,))
        return rows.session(row) if row else None

    async def active_session(self, workspace: str, channel_id: str, user_id: str) -> Session | None:
        """The user's most recently active open session in the channel."""
        row = await self.engine.fetchone(
            f"{_S} WHERE workspace = $1 AND channel_id = $2 AND owner_id = $3"
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
        where: list[str] = ["workspace = $1"]
        args: list[Any] = [workspace]
        if statuses is not None:
            args.append([s.value for s in statuses])
            where.append(f"status = ANY(${len(args)}::text[])")
        for column, value in (("owner_id", owner_id), ("mode", mode)):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        clause = " AND ".join(where)
        n = len(args)
        found = await self.engine.fetchall(
            f"SELECT {rows.SESSION_COLUMNS}, COUNT(*) OVER () AS total FROM sessions"
            f" WHERE {clause} ORDER BY last_activity_at DESC, ref DESC"
            f" LIMIT ${n + 1} OFFSET ${n + 2}",
            (*args, limit, offset),
        )
        if found or offset == 0:
            return SessionPage([rows.session(r) for r in found], found[0]["total"] if found else 0)
        total = await self.engine.fetchone(f"SELECT COUNT(*) FROM sessions WHERE {clause}", args)
        return SessionPage([], int(total[0]) if total else 0)

    async def delete_session(self, session_id: str, *, version: int) -> bool:
        """Delete a session and (by cascade) every row of it, if it is unchanged."""
        deleted = await self.engine.execute(
            "DELETE FROM sessions WHERE id = $1 AND version = $2", (session_id, version)
        )
        return deleted == 1

    async def members(self, session_id: str) -> list[Member]:
        found = await self.engine.fetchall(
            "SELECT * FROM members WHERE session_id = $1 ORDER BY added_at, user_id", (session_id,)
        )
        return [rows.member(r) for r in found]

    # -- plans -------------------------------------------------------------------------------

    async def current_plan(self, session_id: str) -> Plan | None:
        row = await self.engine.fetchone(
            "SELECT * FROM plans WHERE session_id = $1 ORDER BY version DESC LIMIT 1",
            (session_id,),
        )
        return await self._complete_plan(row)

    async def plan(self, plan_id: str) -> Plan | None:
        row = await self.engine.fetchone("SELECT * FROM plans WHERE id = $1", (plan_id,))
        return await self._complete_plan(row)

    async def _complete_plan(self, row: Record | None) -> Plan | None:
        if row is None:
            return None
        plan = rows.plan(row)
        items = await self.engine.fetchall(
            "SELECT * FROM plan_items WHERE plan_id = $1 ORDER BY position", (plan.id,)
        )
        plan.items = [rows.plan_item(r) for r in items]
        approvals = await self.engine.fetchall(
            "SELECT * FROM approvals WHERE plan_id = $1 ORDER BY at, user_id", (plan.id,)
        )
        plan.approvals = [rows.approval(r) for r in approvals]
        messages = await self.engine.fetchall(
            "SELECT * FROM plan_messages WHERE plan_id = $1", (plan.id,)
        )
        plan.messages = [
            PlanMessageRef(r["platform"], r["channel_id"], r["message_ref"]) for r in messages
        ]
        return plan

    async def modifications(self, plan_id: str) -> list[PlanModification]:
        found = await self.engine.fetchall(
            "SELECT * FROM plan_modifications WHERE plan_id = $1 ORDER BY created_at, row_no",
            (plan_id,),
        )
        return [rows.modification(r) for r in found]

    async def add_plan_message(
        self, plan_id: str, *, platform: str, channel_id: str, message_ref: str
    ) -> None:
        await self.engine.execute(
            "INSERT INTO plan_messages (plan_id, platform, channel_id, message_ref)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            (plan_id, platform, channel_id, message_ref),
        )

    async def set_modification_result(
        self, modification_id: str, *, now: datetime, error: str | None
    ) -> None:
        await self.engine.execute(
            "UPDATE plan_modifications SET processed = $1, processed_at = $2, error = $3"
            " WHERE id = $4",
            (error is None, now if error is None else None, error, modification_id),
        )

    # -- events ------------------------------------------------------------------------------

    async def events(
        self, session_id: str, *, limit: int, before_seq: int | None = None
    ) -> list[Event]:
        """Newest first."""
        sql = f"SELECT {rows.EVENT_COLUMNS} FROM events WHERE session_id = $1"
        if before_seq is None:
            found = await self.engine.fetchall(
                f"{sql} ORDER BY seq DESC LIMIT $2", (session_id, limit)
            )
        else:
            found = await self.engine.fetchall(
                f"{sql} AND seq < $2 ORDER BY seq DESC LIMIT $3", (session_id, before_seq, limit)
            )
        return [rows.event(r) for r in found]

    # -- workspace settings ------------------------------------------------------------------

    async def settings(self, workspace: str) -> dict[str, Any]:
        row = await self.engine.fetchone(
            "SELECT settings FROM workspaces WHERE workspace = $1", (workspace,)
        )
        return dict(loads(row["settings"])) if row else {}

    # -- stats -------------------------------------------------------------------------------

    async def stats(self, workspace: str, since: datetime) -> StatsRows:
        args = (workspace, since)
        scope = "FROM sessions WHERE workspace = $1 AND created_at >= $2"
        by_status = await self.engine.fetchall(
            f"SELECT status, COUNT(*) {scope} GROUP BY status", args
        )
        by_mode = await self.engine.fetchall(f"SELECT mode, COUNT(*) {scope} GROUP BY mode", args)
        avg = await self.engine.fetchone(f"SELECT AVG(iterations) {scope}", args)
        ended = await self.engine.fetchall(
            f"SELECT outcome, created_at, ended_at {scope} AND outcome IS NOT NULL", args
        )
        outcomes: dict[str, int] = {}
        for row in ended:
            outcomes[row[0]] = outcomes.get(row[0], 0) + 1
        return StatsRows(
            by_status={r[0]: r[1] for r in by_status},
            by_mode={r[0]: r[1] for r in by_mode},
            average_iterations=float(avg[0] or 0.0) if avg else 0.0,
            outcomes=outcomes,
            durations=[r[2] - r[1] for r in ended],
        )

    async def approval_latencies(
        self, workspace: str, *, since: datetime, until: datetime, channel_id: str | None = None
    ) -> list[timedelta]:
        """Submission-to-decision times of the plans a person decided in (since, until]."""
        sql = (
            "SELECT p.submitted_at, p.decided_at FROM plans p JOIN sessions s"
            " ON s.id = p.session_id WHERE s.workspace = $1 AND p.decided_by IS NOT NULL"
            " AND p.decided_at > $2 AND p.decided_at <= $3"
        )
        args: list[Any] = [workspace, since, until]
        if channel_id is not None:
            sql += " AND s.channel_id = $4"
            args.append(channel_id)
        return [r[1] - r[0] for r in await self.engine.fetchall(sql, tuple(args))]

    # -- inbound dedupe ----------------------------------------------------------------------

    async def claim_inbound(self, key: str, now: datetime) -> bool:
        """True the first time a delivery key is seen; False for a redelivery."""
        claimed = await self.engine.execute(
            "INSERT INTO inbound_dedupe (key, seen_at) VALUES ($1, $2)"
            " ON CONFLICT (key) DO NOTHING",
            (key, now),
        )
        return claimed == 1

    async def purge_inbound(self, before: datetime) -> int:
        return await self.engine.execute("DELETE FROM inbound_dedupe WHERE seen_at < $1", (before,))

    # -- outbox ------------------------------------------------------------------------------

    async def claim_outbox(
        self, *, workspaces: Sequence[str], now: datetime, limit: int, lease: timedelta
    ) -> list[OutboxRow]:
        """Lease up to `limit` due chat rows (not webhooks: `claim_webhook_rows`) whose workspace
        starts with one of `workspaces`."""

        async def claim(conn: Connection) -> list[OutboxRow]:
            return await lease_outbox(
                conn,
                now=now,
                until=now + lease,
                limit=limit,
                where="kind <> 'webhook' AND workspace ^@ ANY($4::text[])",
                extra=[list(workspaces)],
            )

        return await self.engine.write(claim, notify=False)

    async def outbox_delivered(self, row_id: str, *, now: datetime, result_ref: str | None) -> None:
        await self.engine.execute(
            "UPDATE outbox SET status = 'delivered', delivered_at = $1, result_ref = $2,"
            " attempts = attempts + 1, claimed_until = NULL, last_error = NULL WHERE id = $3",
            (now, result_ref, row_id),
            notify=False,
        )

    async def outbox_failed(
        self, row_id: str, *, error: str, next_attempt_at: datetime, dead: bool
    ) -> None:
        await self.engine.execute(
            "UPDATE outbox SET status = $1, attempts = attempts + 1, last_error = $2,"
            " next_attempt_at = $3, claimed_until = NULL WHERE id = $4",
            ("dead" if dead else "pending", error[:1000], next_attempt_at, row_id),
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
            "SELECT * FROM outbox WHERE session_id = $1 ORDER BY row_no", (session_id,)
        )
        return [rows.outbox(r) for r in found]

    async def outbox_is_pending(self, dedupe_key: str) -> bool:
        row = await self.engine.fetchone(
            "SELECT 1 FROM outbox WHERE dedupe_key = $1 AND status = 'pending'", (dedupe_key,)
        )
        return row is not None

    async def set_thread_ref(self, session_id: str, thread_ref: str) -> None:
        """Remember the session card's message as the session's thread (first one wins)."""
        await self.engine.execute(
            "UPDATE sessions SET thread_ref = $1 WHERE id = $2 AND thread_ref IS NULL",
            (thread_ref, session_id),
        )

    # -- operations --------------------------------------------------------------------------

    def observe_operations(self, observer: Observer | None) -> None:
        """Time every write, read and raw call from now on (None stops it)."""
        self.engine.observe = observer

    async def session_counts(self) -> dict[str, int]:
        """Sessions by status across every workspace."""
        found = await self.engine.fetchall("SELECT status, COUNT(*) FROM sessions GROUP BY status")
        return {str(row[0]): int(row[1]) for row in found}

    async def integrity_problems(self) -> list[str]:
        """Invalid indexes (a failed concurrent build) and constraints not validated."""
        indexes = await self.engine.fetchall(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND NOT (i.indisvalid AND i.indisready)"
        )
        constraints = await self.engine.fetchall(
            "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
            " WHERE n.nspname = current_schema() AND NOT c.convalidated"
        )
        return [f"invalid index: {r[0]}" for r in indexes] + [
            f"constraint not validated: {r[0]}" for r in constraints
        ]
