"""SQLite queries of the scheduler feature (due rows, job slots, reminders, subscriptions).

Every due query is an index range scan (see migration 0003), so a sweep over a large database
with nothing due reads a handful of index pages. Claims run on the writer thread at the start
of the unit they guard: a lost claim raises before anything is written, so the unit is skipped.
"""

from __future__ import annotations

import sqlite3
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
    ReminderKind,
    ReminderStatus,
    SendReminder,
    Subscription,
    SummaryRows,
)
from core.store import ops
from core.store.codec import parse_ts, parse_ts_required, sql_in, ts
from core.store.sqlite import rows
from core.store.sqlite.engine import SqliteEngine
from core.store.sqlite.webhooks import SqliteWebhooks
from core.store.sqlite.writes import apply_all

_S_COLUMNS = ", ".join(f"s.{c.strip()}" for c in rows.SESSION_COLUMNS.split(","))
_OPEN = sql_in(OPEN_STATUSES)
_ENDED = sql_in(ENDED_STATUSES)
_MAX_PENDING_REMINDERS = 3
_EXPORT_TABLES = {
    "members": "SELECT * FROM members WHERE session_id = ?",
    "plans": "SELECT * FROM plans WHERE session_id = ? ORDER BY version",
    "plan_items": "SELECT i.* FROM plan_items i JOIN plans p ON p.id = i.plan_id"
    " WHERE p.session_id = ? ORDER BY p.version, i.position",
    "approvals": "SELECT a.* FROM approvals a JOIN plans p ON p.id = a.plan_id"
    " WHERE p.session_id = ? ORDER BY a.at",
    "plan_messages": "SELECT m.* FROM plan_messages m JOIN plans p ON p.id = m.plan_id"
    " WHERE p.session_id = ?",
    "plan_modifications": "SELECT * FROM plan_modifications WHERE session_id = ?"
    " ORDER BY created_at",
    "events": "SELECT * FROM events WHERE session_id = ? ORDER BY seq",
    "outbox": "SELECT * FROM outbox WHERE session_id = ? ORDER BY created_at",
    "reminders": "SELECT * FROM reminders WHERE session_id = ? ORDER BY due_at",
    "messages": "SELECT * FROM messages WHERE session_id = ? ORDER BY seq",
    "message_revisions": "SELECT r.* FROM message_revisions r JOIN messages m"
    " ON m.id = r.message_id WHERE m.session_id = ? ORDER BY m.seq, r.revision",
    "context_expiry": "SELECT * FROM context_expiry WHERE session_id = ?",
}


class _ClaimLost(Conflict):
    """A claim found its slot or row taken; raised inside the unit so nothing is written."""


def _claim(conn: sqlite3.Connection, claim: JobWrite) -> bool:
    if isinstance(claim, ClaimSlot):
        cursor = conn.execute(
            "INSERT INTO job_runs (job, slot, claimed_by, claimed_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (job, slot) DO NOTHING",
            (claim.job, ts(claim.slot), claim.owner, ts(claim.at)),
        )
        return cursor.rowcount == 1
    if isinstance(claim, ClaimReminder):
        return _insert_reminder(conn, claim.reminder, conflict="DO NOTHING")
    if isinstance(claim, SendReminder):
        cursor = conn.execute(
            "UPDATE reminders SET status = 'sent' WHERE id = ? AND status = 'scheduled'",
            (claim.reminder_id,),
        )
        return cursor.rowcount == 1
    conn.execute(
        "UPDATE channel_subscriptions SET last_sent_at = ? WHERE workspace = ? AND channel_id = ?",
        (ts(claim.at), claim.workspace, claim.channel_id),
    )
    return True


def _insert_reminder(conn: sqlite3.Connection, r: Reminder, *, conflict: str) -> bool:
    cursor = conn.execute(
        "INSERT INTO reminders (id, workspace, session_id, target, text, due_at, created_by,"
        f" kind, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT {conflict}",
        (r.id, r.workspace, r.session_id, r.target, r.text, ts(r.due_at), r.created_by,
         r.kind.value, r.status.value, ts(r.created_at)),
    )  # fmt: skip
    return cursor.rowcount == 1


def _reminder(row: sqlite3.Row) -> Reminder:
    return Reminder(
        id=row["id"],
        workspace=row["workspace"],
        session_id=row["session_id"],
        target=row["target"],
        text=row["text"],
        due_at=parse_ts_required(row["due_at"]),
        created_by=row["created_by"],
        kind=ReminderKind(row["kind"]),
        status=ReminderStatus(row["status"]),
        created_at=parse_ts_required(row["created_at"]),
    )


def _subscription(row: sqlite3.Row) -> Subscription:
    return Subscription(
        workspace=row["workspace"],
        channel_id=row["channel_id"],
        schedule=row["schedule"],
        timezone=row["timezone"],
        created_by=row["created_by"],
        created_at=parse_ts_required(row["created_at"]),
        last_sent_at=parse_ts(row["last_sent_at"]),
    )


def _span(start: str, end: str) -> timedelta:
    return datetime.fromisoformat(end) - datetime.fromisoformat(start)


class SqliteJobs(SqliteWebhooks):
    """Due-row claims, job-run slots, reminders, subscriptions; `engine` from SqliteStore."""

    engine: SqliteEngine

    # -- claimed units and job slots ---------------------------------------------------------

    async def apply_claimed(self, claims: Sequence[JobWrite], unit: Sequence[ops.Op]) -> bool:
        """Apply `unit` only if every claim wins, all in one transaction; False if one lost."""

        def run(conn: sqlite3.Connection) -> bool:
            for claim in claims:
                if not _claim(conn, claim):
                    raise _ClaimLost("claimed by someone else")  # rolls back earlier claims
            apply_all(conn, unit)
            return True

        try:
            return await self.engine.write(run)
        except _ClaimLost:
            return False

    async def finish_job(self, job: str, slot: datetime, *, at: datetime) -> None:
        await self.engine.write(
            lambda conn: conn.execute(
                "UPDATE job_runs SET finished_at = ? WHERE job = ? AND slot = ?",
                (ts(at), job, ts(slot)),
            )
        )

    async def job_runs(self, *, workspace: str | None = None) -> list[JobRun]:
        """The latest run of every job (summary jobs only of `workspace` when given)."""
        found = await self.engine.fetchall(
            "SELECT job, MAX(slot) AS slot FROM job_runs GROUP BY job ORDER BY job"
        )
        runs: list[JobRun] = []
        for row in found:
            job = row["job"]
            if workspace and job.startswith("summary:") and f":{workspace}:" not in f"{job}:":
                continue
            last = await self.engine.fetchone(
                "SELECT * FROM job_runs WHERE job = ? AND slot = ?", (job, row["slot"])
            )
            if last is not None:
                runs.append(
                    JobRun(
                        job=job,
                        slot=parse_ts_required(last["slot"]),
                        claimed_by=last["claimed_by"],
                        claimed_at=parse_ts_required(last["claimed_at"]),
                        finished_at=parse_ts(last["finished_at"]),
                    )
                )
        return runs

    async def purge_job_runs(self, before: datetime) -> int:
        return await self.engine.write(
            lambda conn: (
                conn.execute("DELETE FROM job_runs WHERE claimed_at < ?", (ts(before),)).rowcount
            )
        )

    # -- due rows ----------------------------------------------------------------------------

    async def due_abandon(self, now: datetime, *, limit: int) -> list[Session]:
        found = await self.engine.fetchall(
            f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE abandon_at <= ?"
            f" AND status IN {_OPEN} ORDER BY abandon_at LIMIT ?",
            (ts(now), limit),
        )
        return [rows.session(r) for r in found]

    async def due_warnings(
        self, workspace: str, *, now: datetime, horizon: datetime, limit: int
    ) -> list[DueSession]:
        found = await self.engine.fetchall(
            f"SELECT {_S_COLUMNS}, 'auto_abandon_warning:' || s.id || ':' || s.abandon_at AS k"
            " FROM sessions s INDEXED BY sessions_due_abandon"
            " WHERE s.abandon_at > ? AND s.abandon_at <= ?"
            f" AND s.status IN {_OPEN} AND s.workspace = ? AND NOT EXISTS (SELECT 1 FROM"
            " reminders r WHERE r.id = 'auto_abandon_warning:' || s.id || ':' || s.abandon_at)"
            " ORDER BY s.abandon_at LIMIT ?",
            (ts(now), ts(horizon), workspace, limit),
        )
        return [DueSession(rows.session(r), r["k"]) for r in found]

    async def due_pending_reminders(
        self, workspace: str, *, now: datetime, every: timedelta, limit: int
    ) -> list[DueSession]:
        """Pending plans due their next reminder: at most 3, each `every` after the last one."""
        found = await self.engine.fetchall(
            "WITH c AS (SELECT p.id AS plan_id, p.session_id, p.submitted_at,"
            " COUNT(r.id) AS sent, MAX(r.created_at) AS last"
            " FROM plans p INDEXED BY jobs_plans_pending_since LEFT JOIN reminders r"
            " ON r.id IN ('auto_pending:' || p.id || ':1', 'auto_pending:' || p.id || ':2',"
            " 'auto_pending:' || p.id || ':3')"
            " WHERE p.status = 'pending' AND p.submitted_at <= ? GROUP BY p.id)"
            f" SELECT {_S_COLUMNS}, c.plan_id, c.sent, c.submitted_at AS since"
            " FROM c JOIN sessions s ON s.id = c.session_id"
            " WHERE s.workspace = ? AND s.status = 'pending' AND c.sent < ?"
            " AND (c.last IS NULL OR c.last <= ?) ORDER BY c.submitted_at LIMIT ?",
            (ts(now - every), workspace, _MAX_PENDING_REMINDERS, ts(now - every), limit),
        )  # fmt: skip
        return [
            DueSession(
                rows.session(r),
                f"auto_pending:{r['plan_id']}:{r['sent'] + 1}",
                plan_id=r["plan_id"],
                number=r["sent"] + 1,
                since=parse_ts_required(r["since"]),
            )
            for r in found
        ]

    async def due_paused_reminders(
        self, workspace: str, *, before: datetime, limit: int
    ) -> list[DueSession]:
        found = await self.engine.fetchall(
            f"SELECT {_S_COLUMNS}, 'auto_paused:' || s.id || ':' || s.last_activity_at AS k"
            " FROM sessions s WHERE s.workspace = ? AND s.status = 'paused'"
            " AND s.last_activity_at <= ? AND NOT EXISTS (SELECT 1 FROM reminders r"
            " WHERE r.id = 'auto_paused:' || s.id || ':' || s.last_activity_at)"
            " ORDER BY s.last_activity_at LIMIT ?",
            (workspace, ts(before), limit),
        )
        return [DueSession(rows.session(r), r["k"]) for r in found]

    async def due_expiries(self, now: datetime, *, limit: int) -> list[str]:
        found = await self.engine.fetchall(
            "SELECT id FROM plans WHERE expires_at <= ? AND status = 'pending'"
            " ORDER BY expires_at LIMIT ?",
            (ts(now), limit),
        )
        return [r[0] for r in found]

    async def due_reminders(self, now: datetime, *, limit: int) -> list[Reminder]:
        found = await self.engine.fetchall(
            "SELECT * FROM reminders WHERE due_at <= ? AND status = 'scheduled'"
            " ORDER BY due_at LIMIT ?",
            (ts(now), limit),
        )
        return [_reminder(r) for r in found]

    async def due_archive(self, workspace: str, *, before: datetime, limit: int) -> list[Session]:
        found = await self.engine.fetchall(
            f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE workspace = ?"
            f" AND status IN {_ENDED} AND ended_at <= ? ORDER BY ended_at LIMIT ?",
            (workspace, ts(before), limit),
        )
        return [rows.session(r) for r in found]

    async def due_cleanup(self, workspace: str, *, before: datetime, limit: int) -> list[Session]:
        found = await self.engine.fetchall(
            f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE workspace = ?"
            " AND status = 'archived' AND updated_at <= ? ORDER BY updated_at LIMIT ?",
            (workspace, ts(before), limit),
        )
        return [rows.session(r) for r in found]

    # -- reminders and subscriptions ---------------------------------------------------------

    async def add_reminder(self, reminder: Reminder) -> None:
        await self.engine.write(
            lambda conn: _insert_reminder(conn, reminder, conflict="DO NOTHING")
        )

    async def put_subscription(self, subscription: Subscription) -> None:
        s = subscription
        await self.engine.write(
            lambda conn: conn.execute(
                "INSERT INTO channel_subscriptions (workspace, channel_id, schedule, timezone,"
                " last_sent_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (workspace, channel_id) DO UPDATE SET schedule = excluded.schedule,"
                " timezone = excluded.timezone, created_by = excluded.created_by",
                (
                    s.workspace,
                    s.channel_id,
                    s.schedule,
                    s.timezone,
                    ts(s.last_sent_at),
                    s.created_by,
                    ts(s.created_at),
                ),
            )
        )

    async def remove_subscription(self, workspace: str, channel_id: str) -> bool:
        return await self.engine.write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM channel_subscriptions WHERE workspace = ? AND channel_id = ?",
                    (workspace, channel_id),
                ).rowcount
                == 1
            )
        )

    async def subscriptions(self, workspace: str | None = None) -> list[Subscription]:
        if workspace is None:
            found = await self.engine.fetchall("SELECT * FROM channel_subscriptions")
        else:
            found = await self.engine.fetchall(
                "SELECT * FROM channel_subscriptions WHERE workspace = ?", (workspace,)
            )
        return [_subscription(r) for r in found]

    async def summary_rows(
        self, workspace: str, channel_id: str, *, since: datetime, now: datetime
    ) -> SummaryRows:
        where = "workspace = ? AND channel_id = ?"
        args = (workspace, channel_id, ts(since), ts(now))
        started = await self.engine.fetchone(
            f"SELECT COUNT(*) FROM sessions WHERE {where} AND created_at > ? AND created_at <= ?",
            args,
        )
        ended = await self.engine.fetchall(
            f"SELECT outcome, COUNT(*) FROM sessions WHERE {where} AND ended_at > ?"
            " AND ended_at <= ? AND outcome IS NOT NULL GROUP BY outcome",
            args,
        )
        pending = await self.engine.fetchall(
            f"SELECT {_S_COLUMNS}, p.submitted_at AS plan_at FROM sessions s JOIN plans p"
            " ON p.session_id = s.id AND p.status = 'pending' WHERE s.workspace = ?"
            " AND s.channel_id = ? AND s.status = 'pending' ORDER BY p.submitted_at LIMIT 10",
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
            pending=[(rows.session(r), parse_ts_required(r["plan_at"])) for r in pending],
            idle=[rows.session(r) for r in idle],
        )

    # -- cleanup and maintenance -------------------------------------------------------------

    async def export_rows(self, session_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every stored row of one session, table by table, as plain column dicts."""
        session = await self.engine.fetchall("SELECT * FROM sessions WHERE id = ?", (session_id,))
        exported: dict[str, list[dict[str, Any]]] = {"sessions": [dict(r) for r in session]}
        for table, sql in _EXPORT_TABLES.items():
            exported[table] = [dict(r) for r in await self.engine.fetchall(sql, (session_id,))]
        return exported

    async def delete_archived(self, session_id: str, *, version: int) -> bool:
        """Delete an archived session and (by cascade) every row of it, if it is unchanged."""
        return await self.engine.write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM sessions WHERE id = ? AND status = 'archived' AND version = ?",
                    (session_id, version),
                ).rowcount
                == 1
            )
        )

    async def checkpoint(self) -> None:
        """Fold the WAL back into the database file and refresh the planner's statistics."""

        def run(conn: sqlite3.Connection) -> None:
            if not self.engine.memory:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            conn.execute("PRAGMA optimize").fetchall()

        await self.engine.run_raw(run)
