"""PostgreSQL queries of the scheduler feature (due rows, job slots, reminders, subscriptions).

Replica safety: a job slot is claimed by inserting (job, slot) into `job_runs` with
`ON CONFLICT DO NOTHING` (a concurrent insert of the same key waits for the first one and
then does nothing); a reminder is claimed by inserting its deterministic id, or by moving
it from `scheduled` to `sent` — a row another replica is sending at this moment is skipped
(`FOR UPDATE SKIP LOCKED`) instead of waited for. Claims run first in the unit they guard,
so a lost claim rolls back before anything else is written. Due-row reads are plain reads:
the sweep's slot claim keeps replicas from sweeping the same interval, and every verdict is
a compare-and-set (`UpdateSession` with `due_by`), so a row read twice is acted on once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from asyncpg import Connection, Record

from core.errors import Conflict
from core.models import ENDED_STATUSES, OPEN_STATUSES, Session
from core.records.jobs import (
    ClaimReminder,
    ClaimSlot,
    DueSession,
    JobRun,
    JobWrite,
    Reminder,
    ReminderKind,
    ReminderStatus,
    SendReminder,
    Subscription,
    SummaryRows,
)
from core.store import ops
from core.store.codec import sql_in, ts
from core.store.postgres import rows
from core.store.postgres.engine import PgEngine, affected
from core.store.postgres.webhooks import PgWebhooks
from core.store.postgres.writes import apply_all

_S = rows.S_COLUMNS
_OPEN = sql_in(OPEN_STATUSES)
_ENDED = sql_in(ENDED_STATUSES)
_MAX_PENDING_REMINDERS = 3
_EXPORT_TABLES = {
    "members": "SELECT * FROM members WHERE session_id = $1",
    "plans": "SELECT * FROM plans WHERE session_id = $1 ORDER BY version",
    "plan_items": "SELECT i.* FROM plan_items i JOIN plans p ON p.id = i.plan_id"
    " WHERE p.session_id = $1 ORDER BY p.version, i.position",
    "approvals": "SELECT a.* FROM approvals a JOIN plans p ON p.id = a.plan_id"
    " WHERE p.session_id = $1 ORDER BY a.at",
    "plan_messages": "SELECT m.* FROM plan_messages m JOIN plans p ON p.id = m.plan_id"
    " WHERE p.session_id = $1",
    "plan_modifications": "SELECT * FROM plan_modifications WHERE session_id = $1"
    " ORDER BY created_at, row_no",
    "events": "SELECT * FROM events WHERE session_id = $1 ORDER BY seq",
    "outbox": "SELECT * FROM outbox WHERE session_id = $1 ORDER BY created_at, row_no",
    "reminders": "SELECT * FROM reminders WHERE session_id = $1 ORDER BY due_at",
    "messages": "SELECT * FROM messages WHERE session_id = $1 ORDER BY seq",
    "message_revisions": "SELECT r.* FROM message_revisions r JOIN messages m"
    " ON m.id = r.message_id WHERE m.session_id = $1 ORDER BY m.seq, r.revision",
    "context_expiry": "SELECT * FROM context_expiry WHERE session_id = $1",
}
# Columns PostgreSQL adds for itself (insertion order, the search vector): not exported.
_LOCAL_COLUMNS = frozenset({"row_no", "search"})


class _ClaimLost(Conflict):
    """A claim found its slot or row taken; raised inside the unit so nothing is written."""


async def _claim(conn: Connection, claim: JobWrite) -> bool:
    if isinstance(claim, ClaimSlot):
        status = await conn.execute(
            "INSERT INTO job_runs (job, slot, claimed_by, claimed_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (job, slot) DO NOTHING",
            claim.job, claim.slot, claim.owner, claim.at,
        )  # fmt: skip
        return affected(status) == 1
    if isinstance(claim, ClaimReminder):
        return await _insert_reminder(conn, claim.reminder)
    if isinstance(claim, SendReminder):
        status = await conn.execute(
            "UPDATE reminders SET status = 'sent' WHERE id = (SELECT id FROM reminders"
            " WHERE id = $1 AND status = 'scheduled' FOR UPDATE SKIP LOCKED)",
            claim.reminder_id,
        )
        return affected(status) == 1
    await conn.execute(
        "UPDATE channel_subscriptions SET last_sent_at = $1"
        " WHERE workspace = $2 AND channel_id = $3",
        claim.at, claim.workspace, claim.channel_id,
    )  # fmt: skip
    return True


async def _insert_reminder(conn: Connection, r: Reminder) -> bool:
    status = await conn.execute(
        "INSERT INTO reminders (id, workspace, session_id, target, text, due_at, created_by,"
        " kind, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT DO NOTHING",
        r.id, r.workspace, r.session_id, r.target, r.text, r.due_at, r.created_by,
        r.kind.value, r.status.value, r.created_at,
    )  # fmt: skip
    return affected(status) == 1


def _reminder(row: Record) -> Reminder:
    return Reminder(
        id=row["id"],
        workspace=row["workspace"],
        session_id=row["session_id"],
        target=row["target"],
        text=row["text"],
        due_at=row["due_at"],
        created_by=row["created_by"],
        kind=ReminderKind(row["kind"]),
        status=ReminderStatus(row["status"]),
        created_at=row["created_at"],
    )


def _subscription(row: Record) -> Subscription:
    return Subscription(
        workspace=row["workspace"],
        channel_id=row["channel_id"],
        schedule=row["schedule"],
        timezone=row["timezone"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        last_sent_at=row["last_sent_at"],
    )


def exported(row: Record) -> dict[str, Any]:
    """A row as the SQLite store exports it: times as UTC ISO text, flags as 0/1."""
    plain: dict[str, Any] = {}
    for key, value in row.items():
        if key in _LOCAL_COLUMNS:
            continue
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, datetime):
            value = ts(value.astimezone(UTC))
        plain[key] = value
    return plain


class PgJobs(PgWebhooks):
    """Due-row claims, job-run slots, reminders, subscriptions; `engine` from PostgresStore."""

    engine: PgEngine

    # -- claimed units and job slots ---------------------------------------------------------

    async def apply_claimed(self, claims: Sequence[JobWrite], unit: Sequence[ops.Op]) -> bool:
        """Apply `unit` only if every claim wins, all in one transaction; False if one lost."""

        async def run(conn: Connection) -> bool:
            for claim in claims:
                if not await _claim(conn, claim):
                    raise _ClaimLost("claimed by someone else")  # rolls back earlier claims
            await apply_all(conn, unit)
            return True

        try:
            return await self.engine.write(run)
        except _ClaimLost:
            return False

    async def finish_job(self, job: str, slot: datetime, *, at: datetime) -> None:
        await self.engine.execute(
            "UPDATE job_runs SET finished_at = $1 WHERE job = $2 AND slot = $3", (at, job, slot)
        )

    async def job_runs(self, *, workspace: str | None = None) -> list[JobRun]:
        """The latest run of every job (summary jobs only of `workspace` when given)."""
        found = await self.engine.fetchall(
            "SELECT DISTINCT ON (job) job, slot, claimed_by, claimed_at, finished_at"
            " FROM job_runs ORDER BY job, slot DESC"
        )
        return [
            JobRun(
                job=r["job"],
                slot=r["slot"],
                claimed_by=r["claimed_by"],
                claimed_at=r["claimed_at"],
                finished_at=r["finished_at"],
            )
            for r in found
            if not (
                workspace
                and r["job"].startswith("summary:")
                and f":{workspace}:" not in f"{r['job']}:"
            )
        ]

    async def purge_job_runs(self, before: datetime) -> int:
        return await self.engine.execute("DELETE FROM job_runs WHERE claimed_at < $1", (before,))

    # -- due rows ----------------------------------------------------------------------------

    async def due_abandon(self, now: datetime, *, limit: int) -> list[Session]:
        found = await self.engine.fetchall(
            f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE abandon_at <= $1"
            f" AND status IN {_OPEN} ORDER BY abandon_at LIMIT $2",
            (now, limit),
        )
        return [rows.session(r) for r in found]

    async def due_warnings(
        self, workspace: str, *, now: datetime, horizon: datetime, limit: int
    ) -> list[DueSession]:
        found = await self.engine.fetchall(
            f"SELECT {_S}, 'auto_abandon_warning:' || s.id || ':' || iso_utc(s.abandon_at) AS k"
            " FROM sessions s WHERE s.abandon_at > $1 AND s.abandon_at <= $2"
            f" AND s.status IN {_OPEN} AND s.workspace = $3 AND NOT EXISTS (SELECT 1 FROM"
            " reminders r WHERE r.id = 'auto_abandon_warning:' || s.id || ':'"
            " || iso_utc(s.abandon_at)) ORDER BY s.abandon_at LIMIT $4",
            (now, horizon, workspace, limit),
        )
        return [DueSession(rows.session(r), r["k"]) for r in found]

    async def due_pending_reminders(
        self, workspace: str, *, now: datetime, every: timedelta, limit: int
    ) -> list[DueSession]:
        """Pending plans due their next reminder: at most 3, each `every` after the last one."""
        found = await self.engine.fetchall(
            "WITH c AS (SELECT p.id AS plan_id, p.session_id, p.submitted_at,"
            " COUNT(r.id) AS sent, MAX(r.created_at) AS last"
            " FROM plans p LEFT JOIN reminders r"
            " ON r.id IN ('auto_pending:' || p.id || ':1', 'auto_pending:' || p.id || ':2',"
            " 'auto_pending:' || p.id || ':3')"
            " WHERE p.status = 'pending' AND p.submitted_at <= $1 GROUP BY p.id)"
            f" SELECT {_S}, c.plan_id, c.sent, c.submitted_at AS since"
            " FROM c JOIN sessions s ON s.id = c.session_id"
            " WHERE s.workspace = $2 AND s.status = 'pending' AND c.sent < $3"
            " AND (c.last IS NULL OR c.last <= $1) ORDER BY c.submitted_at LIMIT $4",
            (now - every, workspace, _MAX_PENDING_REMINDERS, limit),
        )  # fmt: skip
        return [
            DueSession(
                rows.session(r),
                f"auto_pending:{r['plan_id']}:{r['sent'] + 1}",
                plan_id=r["plan_id"],
                number=r["sent"] + 1,
                since=r["since"],
            )
            for r in found
        ]

    async def due_paused_reminders(
        self, workspace: str, *, before: datetime, limit: int
    ) -> list[DueSession]:
        found = await self.engine.fetchall(
            f"SELECT {_S}, 'auto_paused:' || s.id || ':' || iso_utc(s.last_activity_at) AS k"
            " FROM sessions s WHERE s.workspace = $1 AND s.status = 'paused'"
            " AND s.last_activity_at <= $2 AND NOT EXISTS (SELECT 1 FROM reminders r"
            " WHERE r.id = 'auto_paused:' || s.id || ':' || iso_utc(s.last_activity_at))"
            " ORDER BY s.last_activity_at LIMIT $3",
            (workspace, before, limit),
        )
        return [DueSession(rows.session(r), r["k"]) for r in found]

    async def due_expiries(self, now: datetime, *, limit: int) -> list[str]:
        found = await self.engine.fetchall(
            "SELECT id FROM plans WHERE expires_at <= $1 AND status = 'pending'"
            " ORDER BY expires_at LIMIT $2",
            (now, limit),
        )
        return [r[0] for r in found]

    async def due_reminders(self, now: datetime, *, limit: int) -> list[Reminder]:
        found = await self.engine.fetchall(
            "SELECT * FROM reminders WHERE due_at <= $1 AND status = 'scheduled'"
            " ORDER BY due_at LIMIT $2",
            (now, limit),
        )
        return [_reminder(r) for r in found]

    async def due_archive(self, workspace: str, *, before: datetime, limit: int) -> list[Session]:
        found = await self.engine.fetchall(
            f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE workspace = $1"
            f" AND status IN {_ENDED} AND ended_at <= $2 ORDER BY ended_at LIMIT $3",
            (workspace, before, limit),
        )
        return [rows.session(r) for r in found]

    async def due_cleanup(self, workspace: str, *, before: datetime, limit: int) -> list[Session]:
        found = await self.engine.fetchall(
            f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE workspace = $1"
            " AND status = 'archived' AND updated_at <= $2 ORDER BY updated_at LIMIT $3",
            (workspace, before, limit),
        )
        return [rows.session(r) for r in found]

    # -- reminders and subscriptions ---------------------------------------------------------

    async def add_reminder(self, reminder: Reminder) -> None:
        async def unit(conn: Connection) -> None:
            await _insert_reminder(conn, reminder)

        await self.engine.write(unit)

    async def put_subscription(self, subscription: Subscription) -> None:
        s = subscription
        await self.engine.execute(
            "INSERT INTO channel_subscriptions (workspace, channel_id, schedule, timezone,"
            " last_sent_at, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (workspace, channel_id) DO UPDATE SET schedule = excluded.schedule,"
            " timezone = excluded.timezone, created_by = excluded.created_by",
            (s.workspace, s.channel_id, s.schedule, s.timezone, s.last_sent_at, s.created_by,
             s.created_at),
        )  # fmt: skip

    async def remove_subscription(self, workspace: str, channel_id: str) -> bool:
        removed = await self.engine.execute(
            "DELETE FROM channel_subscriptions WHERE workspace = $1 AND channel_id = $2",
            (workspace, channel_id),
        )
        return removed == 1

    async def subscriptions(self, workspace: str | None = None) -> list[Subscription]:
        if workspace is None:
            found = await self.engine.fetchall(
                "SELECT * FROM channel_subscriptions ORDER BY workspace, channel_id"
            )
        else:
            found = await self.engine.fetchall(
                "SELECT * FROM channel_subscriptions WHERE workspace = $1 ORDER BY channel_id",
                (workspace,),
            )
        return [_subscription(r) for r in found]

    async def summary_rows(
        self, workspace: str, channel_id: str, *, since: datetime, now: datetime
    ) -> SummaryRows:
        where = "workspace = $1 AND channel_id = $2"
        args = (workspace, channel_id, since, now)
        started = await self.engine.fetchone(
            f"SELECT COUNT(*) FROM sessions WHERE {where} AND created_at > $3 AND created_at <= $4",
            args,
        )
        ended = await self.engine.fetchall(
            f"SELECT outcome, COUNT(*) FROM sessions WHERE {where} AND ended_at > $3"
            " AND ended_at <= $4 AND outcome IS NOT NULL GROUP BY outcome",
            args,
        )
        pending = await self.engine.fetchall(
            f"SELECT {_S}, p.submitted_at AS plan_at FROM sessions s JOIN plans p"
            " ON p.session_id = s.id AND p.status = 'pending' WHERE s.workspace = $1"
            " AND s.channel_id = $2 AND s.status = 'pending' ORDER BY p.submitted_at LIMIT 10",
            (workspace, channel_id),
        )
        idle = await self.engine.fetchall(
            f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE {where} AND status = 'active'"
            " ORDER BY last_activity_at LIMIT 5",
            (workspace, channel_id),
        )
        return SummaryRows(
            started=int(started[0]) if started else 0,
            outcomes={r[0]: r[1] for r in ended},
            pending=[(rows.session(r), r["plan_at"]) for r in pending],
            idle=[rows.session(r) for r in idle],
        )

    # -- cleanup and maintenance -------------------------------------------------------------

    async def export_rows(self, session_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every stored row of one session, table by table, as the SQLite store gives them."""
        session = await self.engine.fetchall("SELECT * FROM sessions WHERE id = $1", (session_id,))
        tables: dict[str, list[dict[str, Any]]] = {"sessions": [exported(r) for r in session]}
        for table, sql in _EXPORT_TABLES.items():
            tables[table] = [exported(r) for r in await self.engine.fetchall(sql, (session_id,))]
        return tables

    async def delete_archived(self, session_id: str, *, version: int) -> bool:
        """Delete an archived session and (by cascade) every row of it, if it is unchanged."""
        deleted = await self.engine.execute(
            "DELETE FROM sessions WHERE id = $1 AND status = 'archived' AND version = $2",
            (session_id, version),
        )
        return deleted == 1

    async def checkpoint(self) -> None:
        """Refresh the planner's statistics (autovacuum does the rest on PostgreSQL)."""

        async def run(conn: Connection) -> None:
            await conn.execute("ANALYZE")

        await self.engine.run_raw(run)
