"""Applying write ops to SQLite; runs on the writer thread inside a savepoint."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from core.errors import Conflict, NotFound
from core.models import CURRENT_PLAN_STATUSES, OPEN_STATUSES
from core.store import ops
from core.store.codec import dumps, ref_key, sql_in, ts

_JSON_FIELDS = frozenset({"context", "metadata", "comments"})
_TIME_FIELDS = frozenset(
    {
        "updated_at",
        "last_activity_at",
        "ended_at",
        "abandon_at",
        "decided_at",
        "expires_at",
        "processed_at",
    }
)
_SESSION_FIELDS = frozenset(
    {
        "status",
        "title",
        "mode",
        "context",
        "metadata",
        "iterations",
        "max_iterations",
        "updated_at",
        "last_activity_at",
        "ended_at",
        "abandon_at",
        "result",
        "outcome",
        "error",
        "thread_ref",
        "channel_id",
        "owner_id",
    }
)
_PLAN_FIELDS = frozenset(
    {"status", "decided_at", "decided_by", "decision_reason", "expires_at", "required_approvals"}
)
_ITEM_FIELDS = frozenset({"status", "assignee", "comments", "title", "ticket"})


def _column_value(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return dumps(value)
    if name in _TIME_FIELDS:
        return ts(value)
    return value


def _assignments(changes: dict[str, Any], allowed: frozenset[str]) -> tuple[str, list[Any]]:
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    names = sorted(changes)
    sql = "".join(f"{name} = ?, " for name in names)
    return sql, [_column_value(name, changes[name]) for name in names]


def allocate_ref(conn: sqlite3.Connection, op: ops.AllocateRef) -> int:
    conn.execute(
        "INSERT INTO workspaces (workspace) VALUES (?) ON CONFLICT (workspace) DO NOTHING",
        (op.workspace,),
    )
    (ref,) = conn.execute(
        "UPDATE workspaces SET next_ref = next_ref + 1 WHERE workspace = ? RETURNING next_ref - 1",
        (op.workspace,),
    ).fetchone()
    return int(ref)


def new_session(conn: sqlite3.Connection, op: ops.NewSession) -> None:
    s = op.session
    conn.execute(
        "INSERT INTO sessions (id, workspace, ref, channel_id, thread_ref, owner_id, title, mode,"
        " status, context, metadata, iterations, max_iterations, created_at, updated_at,"
        " last_activity_at, ended_at, abandon_at, result, outcome, error, parent_id,"
        " forked_from_message_id, version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            s.id, s.workspace, s.ref, s.channel_id, s.thread_ref, s.owner_id, s.title, s.mode,
            s.status.value, dumps(s.context), dumps(s.metadata), s.iterations, s.max_iterations,
            ts(s.created_at), ts(s.updated_at), ts(s.last_activity_at), ts(s.ended_at),
            ts(s.abandon_at), s.result, s.outcome, s.error, s.parent_id, s.forked_from_message_id,
            s.version,
        ),
    )  # fmt: skip
    for m in op.members:
        put_member(conn, ops.PutMember(s.id, m))


def update_session(conn: sqlite3.Connection, op: ops.UpdateSession) -> int:
    sql, params = _assignments(op.changes, _SESSION_FIELDS)
    where = "id = ? AND version = ?"
    args: list[Any] = [*params, op.session_id, op.expected_version]
    if op.expected_status is not None:
        where += " AND status = ?"
        args.append(op.expected_status)
    if op.due_by is not None:  # activity since the sweep looked pushes abandon_at: no verdict
        where += " AND abandon_at <= ?"
        args.append(ts(op.due_by))
    cursor = conn.execute(f"UPDATE sessions SET {sql}version = version + 1 WHERE {where}", args)
    if cursor.rowcount != 1:
        raise Conflict("The session was changed by someone else at the same moment; try again.")
    return op.expected_version + 1


def add_event(conn: sqlite3.Connection, op: ops.AddEvent) -> int:
    """Insert the event with the next per-session seq (the writer is the only one writing)."""
    e = op.event
    row = conn.execute(
        "INSERT INTO events (id, session_id, seq, type, actor_id, source, data, created_at)"
        " SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM events WHERE session_id = ?"
        " RETURNING seq",
        (e.id, e.session_id, e.type.value, e.actor_id, e.source.value, dumps(e.data),
         ts(e.created_at), e.session_id),
    ).fetchone()  # fmt: skip
    return int(row[0])


def enqueue(conn: sqlite3.Connection, op: ops.Enqueue) -> bool:
    r = op.row
    cursor = conn.execute(
        "INSERT INTO outbox (id, workspace, session_id, kind, target, payload, dedupe_key,"
        " status, attempts, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
        (r.id, r.workspace, r.session_id, r.kind.value, dumps(r.target), dumps(r.payload),
         r.dedupe_key, r.status.value, r.attempts, ts(r.next_attempt_at), ts(r.created_at)),
    )  # fmt: skip
    return cursor.rowcount == 1


def put_member(conn: sqlite3.Connection, op: ops.PutMember) -> None:
    m = op.member
    conn.execute(
        "INSERT INTO members (session_id, user_id, role, added_by, added_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (session_id, user_id) DO UPDATE SET role = excluded.role",
        (op.session_id, m.user_id, m.role.value, m.added_by, ts(m.added_at)),
    )


def remove_member(conn: sqlite3.Connection, op: ops.RemoveMember) -> None:
    conn.execute(
        "DELETE FROM members WHERE session_id = ? AND user_id = ?", (op.session_id, op.user_id)
    )


def new_plan(conn: sqlite3.Connection, op: ops.NewPlan) -> None:
    p = op.plan
    conn.execute(
        "UPDATE plans SET status = 'superseded', superseded_by = ?, superseded_at = ?,"
        " row_version = row_version + 1"
        f" WHERE session_id = ? AND status IN {sql_in(CURRENT_PLAN_STATUSES)}",
        (p.submitted_by, ts(p.submitted_at), p.session_id),
    )
    conn.execute(
        "INSERT INTO plans (id, session_id, version, status, content_hash, required_approvals,"
        " submitted_by, submitted_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (p.id, p.session_id, p.version, p.status.value, p.content_hash, p.required_approvals,
         p.submitted_by, ts(p.submitted_at), ts(p.expires_at)),
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO plan_items (plan_id, position, title, assignee, status, ticket, comments)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (p.id, i.position, i.title, i.assignee, i.status.value, i.ticket, dumps(i.comments))
            for i in p.items
        ],
    )


def update_plan(conn: sqlite3.Connection, op: ops.UpdatePlan) -> int:
    sql, params = _assignments(op.changes, _PLAN_FIELDS)
    where = "id = ? AND row_version = ?"
    args: list[Any] = [*params, op.plan_id, op.expected_row_version]
    if op.expected_status is not None:
        where += " AND status = ?"
        args.append(op.expected_status)
    cursor = conn.execute(
        f"UPDATE plans SET {sql}row_version = row_version + 1 WHERE {where}", args
    )
    if cursor.rowcount != 1:
        raise Conflict("The plan was changed by someone else at the same moment.")
    return op.expected_row_version + 1


def put_approval(conn: sqlite3.Connection, op: ops.PutApproval) -> None:
    a = op.approval
    conn.execute(
        "INSERT INTO approvals (plan_id, user_id, decision, content_hash, reason, at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (plan_id, user_id) DO UPDATE SET"
        " decision = excluded.decision, content_hash = excluded.content_hash,"
        " reason = excluded.reason, at = excluded.at",
        (a.plan_id, a.user_id, a.decision.value, a.content_hash, a.reason, ts(a.at)),
    )


def update_plan_item(conn: sqlite3.Connection, op: ops.UpdatePlanItem) -> None:
    sql, params = _assignments(op.changes, _ITEM_FIELDS)
    cursor = conn.execute(
        f"UPDATE plan_items SET {sql.rstrip(', ')} WHERE plan_id = ? AND position = ?",
        [*params, op.plan_id, op.position],
    )
    if cursor.rowcount != 1:
        raise Conflict("The plan item no longer exists.")


def add_modification(conn: sqlite3.Connection, op: ops.AddModification) -> None:
    m = op.modification
    conn.execute(
        "INSERT INTO plan_modifications (id, session_id, plan_id, position, user_id, action,"
        " value, created_at, processed, processed_at, error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (m.id, m.session_id, m.plan_id, m.position, m.user_id, m.action.value, m.value,
         ts(m.created_at), int(m.processed), ts(m.processed_at), m.error),
    )  # fmt: skip


def put_settings(conn: sqlite3.Connection, op: ops.PutSettings) -> None:
    conn.execute(
        "INSERT INTO workspaces (workspace, settings) VALUES (?, ?)"
        " ON CONFLICT (workspace) DO UPDATE SET settings = excluded.settings",
        (op.workspace, dumps(op.values)),
    )


def touch(conn: sqlite3.Connection, op: ops.Touch) -> None:
    conn.execute(
        "UPDATE sessions SET last_activity_at = ?, abandon_at = CASE WHEN ? IS NULL"
        " THEN abandon_at ELSE MAX(COALESCE(abandon_at, ?), ?) END"
        " WHERE id = ? AND last_activity_at < ?",
        (ts(op.at), *[ts(op.abandon_at)] * 3, op.session_id, ts(op.at)),
    )


def checked_event(conn: sqlite3.Connection, op: ops.CheckedEvent) -> int:
    key = ref_key(op.ref)
    by = "ref = ?" if isinstance(key, int) else "id = ?"
    row = conn.execute(
        "SELECT s.id, s.ref, s.status, s.owner_id, s.last_activity_at, m.role FROM sessions s"
        " LEFT JOIN members m ON m.session_id = s.id AND m.user_id = ?"
        f" WHERE s.workspace = ? AND s.{by}",
        (op.event.actor_id, op.workspace, key),
    ).fetchone()
    if row is None:
        raise NotFound("session", f"#{key}" if isinstance(key, int) else op.ref)
    last = datetime.fromisoformat(row[4])
    op.check(ops.SessionFacts(row[0], row[1], row[2], row[3], last, row[5]))
    event = dataclasses.replace(op.event, session_id=row[0])
    seq = add_event(conn, ops.AddEvent(event))
    if event.created_at - last >= op.touch_after:
        deadline = event.created_at + op.abandon_after if row[2] in OPEN_STATUSES else None
        touch(conn, ops.Touch(row[0], event.created_at, deadline))
    return seq


APPLY: dict[type, Callable[[sqlite3.Connection, Any], Any]] = {
    ops.AllocateRef: allocate_ref,
    ops.NewSession: new_session,
    ops.UpdateSession: update_session,
    ops.AddEvent: add_event,
    ops.Enqueue: enqueue,
    ops.PutMember: put_member,
    ops.RemoveMember: remove_member,
    ops.NewPlan: new_plan,
    ops.UpdatePlan: update_plan,
    ops.PutApproval: put_approval,
    ops.UpdatePlanItem: update_plan_item,
    ops.AddModification: add_modification,
    ops.PutSettings: put_settings,
    ops.Touch: touch,
    ops.CheckedEvent: checked_event,
}


def apply_all(conn: sqlite3.Connection, unit: Sequence[ops.Op]) -> list[Any]:
    """Apply every op of a unit in order; any exception rolls the unit's savepoint back."""
    return [APPLY[type(op)](conn, op) for op in unit]
