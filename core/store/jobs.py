"""Job slots, due rows, reminders and channel-summary subscriptions (the scheduler feature).

Replica safety: a job slot is claimed by inserting (job, slot) into `job_runs` with
`ON CONFLICT DO NOTHING` — on PostgreSQL a concurrent insert of the same key waits for the
first one and then does nothing — and a reminder by inserting its deterministic id, or by
moving it from `scheduled` to `sent` (a row another replica is sending at this moment is
skipped, `Dialect.skip_locked`, instead of waited for). Claims run first in the unit they
guard, so a lost claim rolls back before anything else is written.

Due-row reads are plain reads, each an index range scan (migration 0003): the sweep's slot
claim keeps replicas from sweeping the same interval, and every verdict is a compare-and-set
(`UpdateSession` with `due_by`), so a row read twice is acted on once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from core.errors import Conflict
from core.models import ENDED_STATUSES, OPEN_STATUSES, Session
from core.records.jobs import (
    ClaimReminder,
    ClaimSlot,
    DueSession,
    JobRun,
    JobWrite,
    Reminder,
    SendReminder,
    Subscription,
    SummaryRows,
)
from core.store import ops
from core.store.codec import sql_in, when_required
from core.store.copy import LOCAL_COLUMNS, neutral
from core.store.db import Database, Row, Tx
from core.store.decode import SESSION_COLUMNS, rows
from core.store.sessions import delete_session
from core.store.writes import apply_all, insert, insert_sql, replacing

_S = f"SELECT {SESSION_COLUMNS} FROM sessions"
_S_COLUMNS = ", ".join(f"s.{c.strip()}" for c in SESSION_COLUMNS.split(","))
_OPEN = sql_in(OPEN_STATUSES)
_ENDED = sql_in(ENDED_STATUSES)
_MAX_PENDING_REMINDERS = 3
_RESCHEDULED = replacing("workspace, channel_id", "schedule, timezone, created_by")
_EXPORT_TABLES = {
    "sessions": "SELECT * FROM sessions WHERE id = ?",
    "members": "SELECT * FROM members WHERE session_id = ?",
    "plans": "SELECT * FROM plans WHERE session_id = ? ORDER BY version",
    "plan_items": "SELECT i.* FROM plan_items i JOIN plans p ON p.id = i.plan_id"
    " WHERE p.session_id = ? ORDER BY p.version, i.position",
    "approvals": "SELECT a.* FROM approvals a JOIN plans p ON p.id = a.plan_id"
    " WHERE p.session_id = ? ORDER BY a.at",
    "plan_messages": "SELECT m.* FROM plan_messages m JOIN plans p ON p.id = m.plan_id"
    " WHERE p.session_id = ?",
    "plan_modifications": "SELECT * FROM plan_modifications WHERE session_id = ?"
    " ORDER BY created_at, {order}",
    "events": "SELECT * FROM events WHERE session_id = ? ORDER BY seq",
    "outbox": "SELECT * FROM outbox WHERE session_id = ? ORDER BY created_at, {order}",
    "reminders": "SELECT * FROM reminders WHERE session_id = ? ORDER BY due_at",
    "messages": "SELECT * FROM messages WHERE session_id = ? ORDER BY seq",
    "message_revisions": "SELECT r.* FROM message_revisions r JOIN messages m"
    " ON m.id = r.message_id WHERE m.session_id = ? ORDER BY m.seq, r.revision",
    "context_expiry": "SELECT * FROM context_expiry WHERE session_id = ?",
    "requests": "SELECT * FROM requests WHERE session_id = ? ORDER BY created_at, id",
    "request_votes": "SELECT v.* FROM request_votes v JOIN requests r ON r.id = v.request_id"
    " WHERE r.session_id = ? ORDER BY r.created_at, r.id, v.at, v.user_id",
    "request_messages": "SELECT m.* FROM request_messages m JOIN requests r"
    " ON r.id = m.request_id WHERE r.session_id = ?",
}


class _ClaimLost(Conflict):
    """A claim found its slot or row taken; raised inside the unit so nothing is written."""


async def _claim(tx: Tx, claim: JobWrite) -> bool:
    if isinstance(claim, ClaimSlot):
        once = " ON CONFLICT (job, slot) DO NOTHING"
        claim_sql = insert_sql("job_runs", "job, slot, claimed_by, claimed_at", once)
        return await tx.execute(claim_sql, (claim.job, claim.slot, claim.owner, claim.at)) == 1
    if isinstance(claim, ClaimReminder):
        return await _insert_reminder(tx, claim.reminder)
    if isinstance(claim, SendReminder):
        sent = await tx.execute(
            "UPDATE reminders SET status = 'sent' WHERE id = (SELECT id FROM reminders"
            f" WHERE id = ? AND status = 'scheduled'{tx.dialect.skip_locked})",
            (claim.reminder_id,),
        )
        return sent == 1
    await tx.execute(
        "UPDATE channel_subscriptions SET last_sent_at = ? WHERE workspace = ? AND channel_id = ?",
        (claim.at, claim.workspace, claim.channel_id),
    )
    return True


async def _insert_reminder(tx: Tx, r: Reminder) -> bool:
    once = " ON CONFLICT DO NOTHING"
    return await tx.execute(*insert("reminders", rows.reminder.columns, r, once)) == 1


async def _sessions(db: Database, where: str, order: str, args: Sequence[Any]) -> list[Session]:
    found = await db.fetchall(f"{_S} WHERE {where} ORDER BY {order} LIMIT ?", args)
    return [rows.session(r) for r in found]


def _exported(row: Row) -> dict[str, Any]:
    """A row as SQLite keeps it: times as UTC ISO text, flags as 0/1."""
    return {key: neutral(v) for key, v in dict(row).items() if key not in LOCAL_COLUMNS}


class Jobs:
    """Claimed units and job slots, due rows, reminders, and the cleanup of archived rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- claimed units and job slots ---------------------------------------------------------

    async def apply_claimed(self, claims: Sequence[JobWrite], unit: Sequence[ops.Op]) -> bool:
        """Apply `unit` only if every claim wins, all in one transaction; False if one lost."""

        async def run(tx: Tx) -> bool:
            for claim in claims:
                if not await _claim(tx, claim):
                    raise _ClaimLost("claimed by someone else")  # rolls back earlier claims
            await apply_all(tx, unit)
            return True

        try:
            return await self.db.write(run)
        except _ClaimLost:
            return False

    async def finish(self, job: str, slot: datetime, *, at: datetime) -> None:
        await self.db.execute(
            "UPDATE job_runs SET finished_at = ? WHERE job = ? AND slot = ?", (at, job, slot)
        )

    async def runs(self, *, workspace: str | None = None) -> list[JobRun]:
        """The latest run of every job (summary jobs only of `workspace` when given)."""
        found = await self.db.fetchall(
            f"SELECT {rows.job_run.columns} FROM job_runs r JOIN (SELECT job AS latest,"
            " MAX(slot) AS latest_slot FROM job_runs GROUP BY job) m"
            " ON m.latest = r.job AND m.latest_slot = r.slot ORDER BY r.job"
        )
        summaries = f":{workspace}:"  # a summary job's name holds its workspace
        return [
            run
            for run in map(rows.job_run, found)
            if not (workspace and run.job.startswith("summary:") and summaries not in f"{run.job}:")
        ]

    async def purge_runs(self, before: datetime) -> int:
        return await self.db.execute("DELETE FROM job_runs WHERE claimed_at < ?", (before,))

    # -- due rows ----------------------------------------------------------------------------

    async def due_abandon(self, now: datetime, *, limit: int) -> list[Session]:
        return await _sessions(
            self.db, f"abandon_at <= ? AND status IN {_OPEN}", "abandon_at", (now, limit)
        )

    async def due_warnings(
        self, workspace: str, *, now: datetime, horizon: datetime, limit: int
    ) -> list[DueSession]:
        d = self.db.dialect
        key = f"'auto_abandon_warning:' || s.id || ':' || {d.as_text('s.abandon_at')}"
        found = await self.db.fetchall(
            f"SELECT {_S_COLUMNS}, {key} AS k FROM sessions s"
            f"{d.indexed_by('sessions_due_abandon')} WHERE s.abandon_at > ? AND s.abandon_at <= ?"
            f" AND s.status IN {_OPEN} AND s.workspace = ?"
            f" AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.id = {key})"
            " ORDER BY s.abandon_at LIMIT ?",
            (now, horizon, workspace, limit),
        )
        return [DueSession(rows.session(r), r["k"]) for r in found]

    async def due_pending_reminders(
        self, workspace: str, *, now: datetime, every: timedelta, limit: int
    ) -> list[DueSession]:
        """Pending plans due their next reminder: at most 3, each `every` after the last one."""
        found = await self.db.fetchall(
            "WITH c AS (SELECT p.id AS plan_id, p.session_id, p.submitted_at,"
            " COUNT(r.id) AS sent, MAX(r.created_at) AS last"
            f" FROM plans p{self.db.dialect.indexed_by('jobs_plans_pending_since')}"
            " LEFT JOIN reminders r"
            " ON r.id IN ('auto_pending:' || p.id || ':1', 'auto_pending:' || p.id || ':2',"
            " 'auto_pending:' || p.id || ':3')"
            " WHERE p.status = 'pending' AND p.submitted_at <= ? GROUP BY p.id)"
            f" SELECT {_S_COLUMNS}, c.plan_id, c.sent, c.submitted_at AS since"
            " FROM c JOIN sessions s ON s.id = c.session_id"
            " WHERE s.workspace = ? AND s.status = 'pending' AND c.sent < ?"
            " AND (c.last IS NULL OR c.last <= ?) ORDER BY c.submitted_at LIMIT ?",
            (now - every, workspace, _MAX_PENDING_REMINDERS, now - every, limit),
        )  # fmt: skip
        return [
            DueSession(
                rows.session(r),
                f"auto_pending:{r['plan_id']}:{r['sent'] + 1}",
                plan_id=r["plan_id"],
                number=r["sent"] + 1,
                since=when_required(r["since"]),
            )
            for r in found
        ]

    async def due_paused_reminders(
        self, workspace: str, *, before: datetime, limit: int
    ) -> list[DueSession]:
        key = f"'auto_paused:' || s.id || ':' || {self.db.dialect.as_text('s.last_activity_at')}"
        found = await self.db.fetchall(
            f"SELECT {_S_COLUMNS}, {key} AS k FROM sessions s WHERE s.workspace = ?"
            " AND s.status = 'paused' AND s.last_activity_at <= ?"
            f" AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.id = {key})"
            " ORDER BY s.last_activity_at LIMIT ?",
            (workspace, before, limit),
        )
        return [DueSession(rows.session(r), r["k"]) for r in found]

    async def due_expiries(self, now: datetime, *, limit: int) -> list[str]:
        found = await self.db.fetchall(
            "SELECT id FROM plans WHERE expires_at <= ? AND status = 'pending'"
            " ORDER BY expires_at LIMIT ?",
            (now, limit),
        )
        return [r[0] for r in found]

    async def due_reminders(self, now: datetime, *, limit: int) -> list[Reminder]:
        found = await self.db.fetchall(
            f"SELECT {rows.reminder.columns} FROM reminders WHERE due_at <= ?"
            " AND status = 'scheduled' ORDER BY due_at LIMIT ?",
            (now, limit),
        )
        return [rows.reminder(r) for r in found]

    async def due_archive(self, workspace: str, *, before: datetime, limit: int) -> list[Session]:
        where = f"workspace = ? AND status IN {_ENDED} AND ended_at <= ?"
        return await _sessions(self.db, where, "ended_at", (workspace, before, limit))

    async def due_cleanup(self, workspace: str, *, before: datetime, limit: int) -> list[Session]:
        where = "workspace = ? AND status = 'archived' AND updated_at <= ?"
        return await _sessions(self.db, where, "updated_at", (workspace, before, limit))

    # -- reminders and archived sessions -----------------------------------------------------

    async def add_reminder(self, reminder: Reminder) -> None:
        await self.db.write(lambda tx: _insert_reminder(tx, reminder))

    async def export_rows(self, session_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every stored row of one session, table by table, as plain column dicts (the same
        values on both backends: times as UTC ISO text, flags as 0/1)."""
        tables: dict[str, list[dict[str, Any]]] = {}
        for table, sql in _EXPORT_TABLES.items():
            order = self.db.dialect.insertion_order
            found = await self.db.fetchall(sql.format(order=order), (session_id,))
            tables[table] = [_exported(r) for r in found]
        return tables

    async def delete_archived(self, session_id: str, *, version: int) -> bool:
        """Delete an archived session and (by cascade) every row of it, if it is unchanged."""
        return await delete_session(self.db, session_id, version, " AND status = 'archived'")


class Subscriptions:
    """Channels' scheduled summaries and what a summary counts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, subscription: Subscription) -> None:
        columns = rows.subscription.columns
        await self.db.execute(*insert("channel_subscriptions", columns, subscription, _RESCHEDULED))

    async def remove(self, workspace: str, channel_id: str) -> bool:
        removed = await self.db.execute(
            "DELETE FROM channel_subscriptions WHERE workspace = ? AND channel_id = ?",
            (workspace, channel_id),
        )
        return removed == 1

    async def every(self, workspace: str | None = None) -> list[Subscription]:
        """Every subscription (of `workspace` when given), by workspace and channel."""
        where, args = ("", ()) if workspace is None else ("WHERE workspace = ? ", (workspace,))
        found = await self.db.fetchall(
            f"SELECT {rows.subscription.columns} FROM channel_subscriptions {where}"
            "ORDER BY workspace, channel_id",
            args,
        )
        return [rows.subscription(r) for r in found]

    async def summary_rows(
        self, workspace: str, channel_id: str, *, since: datetime, now: datetime
    ) -> SummaryRows:
        where = "workspace = ? AND channel_id = ?"
        args = (workspace, channel_id, since, now)
        started = await self.db.fetchone(
            f"SELECT COUNT(*) FROM sessions WHERE {where} AND created_at > ? AND created_at <= ?",
            args,
        )
        ended = await self.db.fetchall(
            f"SELECT outcome, COUNT(*) FROM sessions WHERE {where} AND ended_at > ?"
            " AND ended_at <= ? AND outcome IS NOT NULL GROUP BY outcome",
            args,
        )
        pending = await self.db.fetchall(
            f"SELECT {_S_COLUMNS}, p.submitted_at AS plan_at FROM sessions s JOIN plans p"
            " ON p.session_id = s.id AND p.status = 'pending' WHERE s.workspace = ?"
            " AND s.channel_id = ? AND s.status = 'pending' ORDER BY p.submitted_at LIMIT 10",
            (workspace, channel_id),
        )
        active = f"{where} AND status = 'active'"
        return SummaryRows(
            started=int(started[0]) if started else 0,
            outcomes={r[0]: r[1] for r in ended},
            pending=[(rows.session(r), when_required(r["plan_at"])) for r in pending],
            idle=await _sessions(self.db, active, "last_activity_at", (workspace, channel_id, 5)),
        )
