"""Applying write ops to PostgreSQL inside the unit's transaction.

Concurrency is the database's here, not one writer thread's: compare-and-set updates
(`… WHERE id = $1 AND version = $2`) re-check their condition after waiting for a
concurrent writer's lock, so exactly one of two racing decisions matches a row. Per-session
sequence numbers (events, messages) are taken under the session row's lock
(`FOR NO KEY UPDATE`), so two replicas appending to one session queue up instead of
colliding on `UNIQUE (session_id, seq)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from asyncpg import Connection

from core.errors import Conflict, NotFound
from core.models import CURRENT_PLAN_STATUSES, OPEN_STATUSES
from core.store import ops
from core.store.codec import dumps, ref_key, sql_in
from core.store.postgres.engine import affected

_JSON_FIELDS = frozenset({"context", "metadata", "comments"})
_SESSION_FIELDS = frozenset(
    {
        "status", "title", "mode", "context", "metadata", "iterations", "max_iterations",
        "updated_at", "last_activity_at", "ended_at", "abandon_at", "result", "outcome",
        "error", "thread_ref", "channel_id", "owner_id",
    }
)  # fmt: skip
_PLAN_FIELDS = frozenset(
    {"status", "decided_at", "decided_by", "decision_reason", "expires_at", "required_approvals"}
)
_ITEM_FIELDS = frozenset({"status", "assignee", "comments", "title", "ticket"})


def _assignments(
    changes: dict[str, Any], allowed: frozenset[str], *, first: int = 1
) -> tuple[str, list[Any]]:
    """`a = $1, b = $2, ` for the changed columns (names from a fixed set, values bound)."""
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    names = sorted(changes)
    sql = "".join(f"{name} = ${n}, " for n, name in enumerate(names, start=first))
    values = [dumps(changes[k]) if k in _JSON_FIELDS else changes[k] for k in names]
    return sql, values


async def allocate_ref(conn: Connection, op: ops.AllocateRef) -> int:
    ref = await conn.fetchval(
        "INSERT INTO workspaces (workspace, next_ref) VALUES ($1, 2) ON CONFLICT (workspace)"
        " DO UPDATE SET next_ref = workspaces.next_ref + 1 RETURNING next_ref - 1",
        op.workspace,
    )
    return int(ref)


async def new_session(conn: Connection, op: ops.NewSession) -> None:
    s = op.session
    await conn.execute(
        "INSERT INTO sessions (id, workspace, ref, channel_id, thread_ref, owner_id, title, mode,"
        " status, context, metadata, iterations, max_iterations, created_at, updated_at,"
        " last_activity_at, ended_at, abandon_at, result, outcome, error, parent_id,"
        " forked_from_message_id, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
        " $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
        s.id, s.workspace, s.ref, s.channel_id, s.thread_ref, s.owner_id, s.title, s.mode,
        s.status.value, dumps(s.context), dumps(s.metadata), s.iterations, s.max_iterations,
        s.created_at, s.updated_at, s.last_activity_at, s.ended_at, s.abandon_at, s.result,
        s.outcome, s.error, s.parent_id, s.forked_from_message_id, s.version,
    )  # fmt: skip
    if op.members:
        await conn.executemany(
            "INSERT INTO members (session_id, user_id, role, added_by, added_at)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (session_id, user_id) DO UPDATE SET role = excluded.role",
            [(s.id, m.user_id, m.role.value, m.added_by, m.added_at) for m in op.members],
        )


async def update_session(conn: Connection, op: ops.UpdateSession) -> int:
    sql, args = _assignments(op.changes, _SESSION_FIELDS)
    args += [op.session_id, op.expected_version]
    where = f"id = ${len(args) - 1} AND version = ${len(args)}"
    if op.expected_status is not None:
        args.append(op.expected_status)
        where += f" AND status = ${len(args)}"
    if op.due_by is not None:  # activity since the sweep looked pushes abandon_at: no verdict
        args.append(op.due_by)
        where += f" AND abandon_at <= ${len(args)}"
    status = await conn.execute(
        f"UPDATE sessions SET {sql}version = version + 1 WHERE {where}", *args
    )
    if affected(status) != 1:
        raise Conflict("The session was changed by someone else at the same moment; try again.")
    return op.expected_version + 1


async def lock_session(conn: Connection, session_id: str) -> None:
    """Hold the session row until commit: per-session seqs are taken one writer at a time."""
    await conn.execute("SELECT 1 FROM sessions WHERE id = $1 FOR NO KEY UPDATE", session_id)


async def add_event(conn: Connection, op: ops.AddEvent, *, locked: bool = False) -> int:
    """Append an event; `locked` when the unit already holds the session row (no second trip)."""
    e = op.event
    if not locked:
        await lock_session(conn, e.session_id)
    seq = await conn.fetchval(
        "INSERT INTO events (id, session_id, seq, type, actor_id, source, data, created_at)"
        " SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6, $7 FROM events"
        " WHERE session_id = $2 RETURNING seq",
        e.id, e.session_id, e.type.value, e.actor_id, e.source.value, dumps(e.data),
        e.created_at,
    )  # fmt: skip
    return int(seq)


async def enqueue(conn: Connection, op: ops.Enqueue) -> bool:
    r = op.row
    status = await conn.execute(
        "INSERT INTO outbox (id, workspace, session_id, kind, target, payload, dedupe_key,"
        " status, attempts, next_attempt_at, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (dedupe_key) DO NOTHING",
        r.id, r.workspace, r.session_id, r.kind.value, dumps(r.target), dumps(r.payload),
        r.dedupe_key, r.status.value, r.attempts, r.next_attempt_at, r.created_at,
    )  # fmt: skip
    return affected(status) == 1


async def put_member(conn: Connection, op: ops.PutMember) -> None:
    m = op.member
    await conn.execute(
        "INSERT INTO members (session_id, user_id, role, added_by, added_at)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (session_id, user_id) DO UPDATE SET role = excluded.role",
        op.session_id, m.user_id, m.role.value, m.added_by, m.added_at,
    )  # fmt: skip


async def remove_member(conn: Connection, op: ops.RemoveMember) -> None:
    await conn.execute(
        "DELETE FROM members WHERE session_id = $1 AND user_id = $2", op.session_id, op.user_id
    )


async def new_plan(conn: Connection, op: ops.NewPlan) -> None:
    p = op.plan
    await conn.execute(
        "UPDATE plans SET status = 'superseded', superseded_by = $2, superseded_at = $3,"
        " row_version = row_version + 1"
        f" WHERE session_id = $1 AND status IN {sql_in(CURRENT_PLAN_STATUSES)}",
        p.session_id,
        p.submitted_by,
        p.submitted_at,
    )
    await conn.execute(
        "INSERT INTO plans (id, session_id, version, status, content_hash, required_approvals,"
        " submitted_by, submitted_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        p.id, p.session_id, p.version, p.status.value, p.content_hash, p.required_approvals,
        p.submitted_by, p.submitted_at, p.expires_at,
    )  # fmt: skip
    await conn.executemany(
        "INSERT INTO plan_items (plan_id, position, title, assignee, status, ticket, comments)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            (p.id, i.position, i.title, i.assignee, i.status.value, i.ticket, dumps(i.comments))
            for i in p.items
        ],
    )


async def update_plan(conn: Connection, op: ops.UpdatePlan) -> int:
    sql, args = _assignments(op.changes, _PLAN_FIELDS)
    args += [op.plan_id, op.expected_row_version]
    where = f"id = ${len(args) - 1} AND row_version = ${len(args)}"
    if op.expected_status is not None:
        args.append(op.expected_status)
        where += f" AND status = ${len(args)}"
    status = await conn.execute(
        f"UPDATE plans SET {sql}row_version = row_version + 1 WHERE {where}", *args
    )
    if affected(status) != 1:
        raise Conflict("The plan was changed by someone else at the same moment.")
    return op.expected_row_version + 1


async def put_approval(conn: Connection, op: ops.PutApproval) -> None:
    a = op.approval
    await conn.execute(
        "INSERT INTO approvals (plan_id, user_id, decision, content_hash, reason, at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (plan_id, user_id) DO UPDATE SET"
        " decision = excluded.decision, content_hash = excluded.content_hash,"
        " reason = excluded.reason, at = excluded.at",
        a.plan_id, a.user_id, a.decision.value, a.content_hash, a.reason, a.at,
    )  # fmt: skip


async def update_plan_item(conn: Connection, op: ops.UpdatePlanItem) -> None:
    sql, args = _assignments(op.changes, _ITEM_FIELDS)
    n = len(args)
    status = await conn.execute(
        f"UPDATE plan_items SET {sql.rstrip(', ')} WHERE plan_id = ${n + 1}"
        f" AND position = ${n + 2}",
        *args, op.plan_id, op.position,
    )  # fmt: skip
    if affected(status) != 1:
        raise Conflict("The plan item no longer exists.")


async def add_modification(conn: Connection, op: ops.AddModification) -> None:
    m = op.modification
    await conn.execute(
        "INSERT INTO plan_modifications (id, session_id, plan_id, position, user_id, action,"
        " value, created_at, processed, processed_at, error)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        m.id, m.session_id, m.plan_id, m.position, m.user_id, m.action.value, m.value,
        m.created_at, m.processed, m.processed_at, m.error,
    )  # fmt: skip


async def put_settings(conn: Connection, op: ops.PutSettings) -> None:
    await conn.execute(
        "INSERT INTO workspaces (workspace, settings) VALUES ($1, $2)"
        " ON CONFLICT (workspace) DO UPDATE SET settings = excluded.settings",
        op.workspace, dumps(op.values),
    )  # fmt: skip


async def touch(conn: Connection, op: ops.Touch) -> None:
    """Push last activity; abandon_at only ever moves later (GREATEST skips a NULL)."""
    await conn.execute(
        "UPDATE sessions SET last_activity_at = $1,"
        " abandon_at = CASE WHEN $2::timestamptz IS NULL THEN abandon_at"
        " ELSE GREATEST(abandon_at, $2::timestamptz) END"
        " WHERE id = $3 AND last_activity_at < $1",
        op.at, op.abandon_at, op.session_id,
    )  # fmt: skip


async def session_facts(
    conn: Connection, workspace: str, ref: str, actor_id: str
) -> ops.SessionFacts:
    """The session `ref` names (locked until commit) and the actor's role in it."""
    key = ref_key(ref)
    by = "ref = $3::integer" if isinstance(key, int) else "id = $3"
    row = await conn.fetchrow(
        "SELECT s.id, s.ref, s.status, s.owner_id, s.last_activity_at, m.role FROM sessions s"
        " LEFT JOIN members m ON m.session_id = s.id AND m.user_id = $1"
        f" WHERE s.workspace = $2 AND s.{by} FOR NO KEY UPDATE OF s",
        actor_id, workspace, key,
    )  # fmt: skip
    if row is None:
        raise NotFound("session", f"#{key}" if isinstance(key, int) else ref)
    return ops.SessionFacts(row[0], row[1], row[2], row[3], row[4], row[5])


async def checked_event(conn: Connection, op: ops.CheckedEvent) -> int:
    facts = await session_facts(conn, op.workspace, op.ref, op.event.actor_id)
    op.check(facts)
    event = dataclasses.replace(op.event, session_id=facts.session_id)
    seq = await add_event(conn, ops.AddEvent(event), locked=True)  # session_facts locked it
    if event.created_at - facts.last_activity_at >= op.touch_after:
        deadline = event.created_at + op.abandon_after if facts.status in OPEN_STATUSES else None
        await touch(conn, ops.Touch(facts.session_id, event.created_at, deadline))
    return seq


APPLY: dict[type, Callable[[Connection, Any], Awaitable[Any]]] = {
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


async def apply_all(conn: Connection, unit: Sequence[ops.Op]) -> list[Any]:
    """Apply every op of a unit in order, inside the caller's transaction.

    An event's session row is locked once per unit: a session the unit inserted, or whose
    event it already added, is held until commit (one round trip less per event).
    """
    held: set[str] = set()
    results = []
    for op in unit:
        if isinstance(op, ops.AddEvent):
            session_id = op.event.session_id
            results.append(await add_event(conn, op, locked=session_id in held))
            held.add(session_id)
            continue
        results.append(await APPLY[type(op)](conn, op))
        if isinstance(op, ops.NewSession):
            held.add(op.session.id)
    return results
