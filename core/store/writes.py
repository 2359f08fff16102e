"""Applying write ops inside a unit's transaction, once for both backends.

Concurrency: SQLite has one writer thread, so a unit sees no one else's writes. On
PostgreSQL, compare-and-set updates (`… WHERE id = ? AND version = ?`) re-check their
condition after waiting for a concurrent writer's row lock, so exactly one of two racing
decisions matches a row, and per-session sequence numbers (events, messages) are taken under
the session row's lock (`Dialect.lock_rows`), so two replicas appending to one session queue
up instead of colliding on `UNIQUE (session_id, seq)`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from core.errors import Conflict
from core.models import CURRENT_PLAN_STATUSES, JSON, OPEN_STATUSES, Event
from core.store import homes, ops, wakes
from core.store.codec import dumps, sql_in, ts
from core.store.db import Dialect, Tx, marks
from core.store.decode import Decoder, rows
from core.store.encode import bound, row_values
from core.store.facts import session_facts
from core.store.ops import SessionFacts


@lru_cache(maxsize=128)
def insert_sql(table: str, columns: str, then: str = "") -> str:
    """An INSERT of one row's `columns` (names fixed in code, values bound), then `then`;
    built once per statement (inserts are the hot path)."""
    return f"INSERT INTO {table} ({columns}) VALUES ({marks(columns.count(',') + 1)}){then}"


def replacing(key: str, columns: str) -> str:
    """The ON CONFLICT clause by which a row with the same `key` takes the new `columns`."""
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", "))
    return f" ON CONFLICT ({key}) DO UPDATE SET {sets}"


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
_REQUEST_FIELDS = frozenset(
    {
        "status", "args", "digest", "decided_by", "decided_at", "reason", "answer",
        "edited_args", "expires_at", "escalated", "approvers",
    }
)  # fmt: skip
_CURRENT_PLAN = sql_in(CURRENT_PLAN_STATUSES)
# An insert writes its decoder's columns (rows.plan.columns, …); a member row also its session.
_MEMBER = f"session_id, {rows.member.columns}"
_MEMBER_KEPT = replacing("session_id, user_id", "role")
INSERT_MEMBERS = insert_sql("members", _MEMBER, _MEMBER_KEPT)
INSERT_SESSION = insert_sql("sessions", rows.session.columns)
# One row per person: a later decision replaces the earlier one.
_APPROVAL_KEPT = replacing("plan_id, user_id", "decision, content_hash, reason, at")
_VOTE_KEPT = replacing("request_id, user_id", "decision, digest, reason, at")


def insert(
    table: str, columns: str, record: Any, then: str = "", **given: Any
) -> tuple[str, tuple[Any, ...]]:
    """The statement and values inserting `record` as a row of `table`, `then` being its ON
    CONFLICT clause if any."""
    return insert_sql(table, columns, then), row_values(table, record, columns, **given)


async def _put(tx: Tx, table: str, columns: str, record: Any, then: str = "", **given: Any) -> int:
    return await tx.execute(*insert(table, columns, record, then, **given))


async def insert_all(
    tx: Tx, table: str, columns: str, records: Iterable[Any], then: str = "", **given: Any
) -> None:
    """`insert` of many records in one batch (none: no round trip)."""
    values = [row_values(table, record, columns, **given) for record in records]
    if values:
        await tx.executemany(insert_sql(table, columns, then), values)


async def _update(
    tx: Tx, table: str, changes: JSON, allowed: frozenset[str], where: JSON, *, bump: str = ""
) -> bool:
    """Set `changes` (names from the fixed set `allowed`, values bound) on the row `where`
    matches ({"column op ?": value}; a guard whose value is None is not asked), and add 1 to
    its `bump` column; False when no row matched (it changed meanwhile, or is gone)."""
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    names = sorted(changes)
    assign = [f"{name} = ?" for name in names] + ([f"{bump} = {bump} + 1"] if bump else [])
    guards = {condition: value for condition, value in where.items() if value is not None}
    changed = await tx.execute(
        f"UPDATE {table} SET {', '.join(assign)} WHERE {' AND '.join(guards)}",
        [*(bound(table, name, changes[name]) for name in names), *guards.values()],
    )
    return changed == 1


# Reserve a workspace's next `n` session refs; the first of them comes back.
_ALLOCATE_REFS = (
    "INSERT INTO workspaces (workspace, next_ref) VALUES (?, ?) ON CONFLICT (workspace)"
    " DO UPDATE SET next_ref = workspaces.next_ref + ? RETURNING next_ref - ?"
)


def allocating_refs(workspace: str, n: int = 1) -> tuple[str, tuple[Any, ...]]:
    """The statement reserving `workspace`'s next `n` refs, which returns the first of them."""
    return _ALLOCATE_REFS, (workspace, n + 1, n, n)


async def allocate_ref(tx: Tx, op: ops.AllocateRef) -> int:
    row = await tx.fetchone(*allocating_refs(op.workspace))
    assert row is not None
    return int(row[0])


def _session_values(op: ops.NewSession, text_times: bool) -> tuple[Any, list[Any]]:
    members = [
        row_values("members", m, _MEMBER, text_times=text_times, session_id=op.session.id)
        for m in op.members
    ]
    return row_values("sessions", op.session, rows.session.columns, text_times=text_times), members


async def new_session(tx: Tx, op: ops.NewSession, bound: tuple[Any, list[Any]]) -> None:
    session, members = bound
    await tx.execute(INSERT_SESSION, session)
    tx.wake(wakes.events(op.session.id))  # the days it counts in changed (stats_page.py)
    if members:
        await tx.executemany(INSERT_MEMBERS, members)


async def update_session(tx: Tx, op: ops.UpdateSession) -> int:
    where = {
        "id = ?": op.session_id,
        "version = ?": op.expected_version,
        "status = ?": op.expected_status,
        "abandon_at <= ?": op.due_by,  # activity since the sweep looked pushed it: no verdict
    }
    if not await _update(tx, "sessions", op.changes, _SESSION_FIELDS, where, bump="version"):
        raise Conflict("The session was changed by someone else at the same moment; try again.")
    tx.wake(wakes.events(op.session_id))
    return op.expected_version + 1


async def lock_session(tx: Tx, session_id: str) -> None:
    """Hold the session row until commit: per-session seqs are taken one writer at a time."""
    if tx.dialect.row_locks:
        await tx.execute(
            "SELECT 1 FROM sessions WHERE id = ?" + tx.dialect.lock_rows("sessions"), (session_id,)
        )


_ADD_EVENT = (
    "INSERT INTO events (id, session_id, seq, type, actor_id, source, data, created_at)"
    " SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM events WHERE session_id = ?"
    " RETURNING seq"
)


EVENT_AT = insert_sql("events", "id, session_id, seq, type, actor_id, source, data, created_at")


def _event_values(e: Event, text_times: bool) -> tuple[Any, ...]:
    """An event's bound values but its session: id, type, actor, source, data, time."""
    at = ts(e.created_at) if text_times else e.created_at
    return (e.id, e.type.value, e.actor_id, e.source.value, dumps(e.data), at)


async def add_event(
    tx: Tx, op: ops.AddEvent, bound: tuple[Any, ...] | None = None, *, locked: bool = False
) -> int:
    """Append an event; `locked` when the unit already holds the session row (no second trip)."""
    session_id = op.event.session_id
    if not locked:
        await lock_session(tx, session_id)
    return await _insert_event(tx, session_id, bound or _event_values(op.event, False))


async def _insert_event(tx: Tx, session_id: str, values: tuple[Any, ...]) -> int:
    event_id, *rest = values
    row = await tx.fetchone(_ADD_EVENT, (event_id, session_id, *rest, session_id))
    assert row is not None
    tx.wake(wakes.events(session_id))
    return int(row[0])


ENQUEUE = insert_sql("outbox", rows.outbox.columns, " ON CONFLICT (dedupe_key) DO NOTHING")


async def enqueue(tx: Tx, op: ops.Enqueue, bound: tuple[Any, ...] | None = None) -> bool:
    values = bound or row_values("outbox", op.row, rows.outbox.columns)
    added = await tx.execute(ENQUEUE, values) == 1
    if added:
        tx.wake(wakes.OUTBOX)
    return added


async def put_member(tx: Tx, op: ops.PutMember) -> None:
    await _put(tx, "members", _MEMBER, op.member, _MEMBER_KEPT, session_id=op.session_id)


async def remove_member(tx: Tx, op: ops.RemoveMember) -> None:
    await tx.execute(
        "DELETE FROM members WHERE session_id = ? AND user_id = ?", (op.session_id, op.user_id)
    )


async def new_plan(tx: Tx, op: ops.NewPlan) -> None:
    """Supersede the current plan and insert this one, holding the session row: a plan another
    transaction inserts meanwhile is then seen (and superseded) rather than missed."""
    p = op.plan
    await lock_session(tx, p.session_id)
    await tx.execute(
        "UPDATE plans SET status = 'superseded', superseded_by = ?, superseded_at = ?,"
        f" row_version = row_version + 1 WHERE session_id = ? AND status IN {_CURRENT_PLAN}",
        (p.submitted_by, p.submitted_at, p.session_id),
    )
    await _put(tx, "plans", rows.plan.columns, p)
    await insert_all(tx, "plan_items", rows.plan_item.columns, p.items, plan_id=p.id)


async def update_plan(tx: Tx, op: ops.UpdatePlan) -> int:
    where = {
        "id = ?": op.plan_id,
        "row_version = ?": op.expected_row_version,
        "status = ?": op.expected_status,
    }
    if not await _update(tx, "plans", op.changes, _PLAN_FIELDS, where, bump="row_version"):
        raise Conflict("The plan was changed by someone else at the same moment.")
    return op.expected_row_version + 1


async def update_plan_item(tx: Tx, op: ops.UpdatePlanItem) -> None:
    where = {"plan_id = ?": op.plan_id, "position = ?": op.position}
    if not await _update(tx, "plan_items", op.changes, _ITEM_FIELDS, where):
        raise Conflict("The plan item no longer exists.")


async def put_settings(tx: Tx, op: ops.PutSettings) -> None:
    await tx.execute(
        insert_sql("workspaces", "workspace, settings", replacing("workspace", "settings")),
        (op.workspace, dumps(op.values)),
    )


async def touch(tx: Tx, op: ops.Touch) -> None:
    """Push last activity; abandon_at only ever moves later (and stays as it is without one)."""
    await tx.execute(
        "UPDATE sessions SET last_activity_at = ?, abandon_at ="
        f" {tx.dialect.greatest}(COALESCE(abandon_at, ?), COALESCE(?, abandon_at))"
        " WHERE id = ? AND last_activity_at < ?",
        (op.at, op.abandon_at, op.abandon_at, op.session_id, op.at),
    )


async def coalesce_activity(
    tx: Tx, facts: SessionFacts, at: datetime, *, touch_after: timedelta, abandon_after: timedelta
) -> None:
    """Record activity at `at` unless the last one is younger than `touch_after` (one write
    per window instead of one per event); only an open session gets a new abandon deadline."""
    if at - facts.last_activity_at >= touch_after:
        deadline = at + abandon_after if facts.status in OPEN_STATUSES else None
        await touch(tx, ops.Touch(facts.session_id, at, deadline))


async def checked_event(tx: Tx, op: ops.CheckedEvent, bound: tuple[Any, ...]) -> int:
    facts = await session_facts(tx, op.workspace, op.ref, op.event.actor_id, last_seq=True)
    op.check(facts)
    if facts.last_seq is None:  # taken by the insert, under the row session_facts holds
        seq = await _insert_event(tx, facts.session_id, bound)
    else:
        seq = facts.last_seq + 1
        event_id, *rest = bound
        await tx.execute(EVENT_AT, (event_id, facts.session_id, seq, *rest))
        tx.wake(wakes.events(facts.session_id))
    await coalesce_activity(
        tx, facts, op.event.created_at, touch_after=op.touch_after, abandon_after=op.abandon_after
    )
    return seq


async def update_request(tx: Tx, op: ops.UpdateRequest) -> int:
    where = {"id = ?": op.request_id, "row_version = ?": op.expected_row_version}
    where["status = ?"] = "pending"
    if not await _update(tx, "requests", op.changes, _REQUEST_FIELDS, where, bump="row_version"):
        raise Conflict("The request was decided or changed by someone else at the same moment.")
    tx.wake(wakes.request(op.request_id))
    return op.expected_row_version + 1


Applier = Callable[[Tx, Any], Coroutine[Any, Any, Any]]


def _inserting(decode: Decoder[Any], field: str, then: str = "") -> Applier:
    """The applier of an op that inserts its record `field` as a row of `decode`'s table."""

    async def apply(tx: Tx, op: Any) -> None:
        await _put(tx, decode.table, decode.columns, getattr(op, field), then)

    return apply


APPLY: dict[type, Applier] = {
    ops.AllocateRef: allocate_ref,
    ops.UpdateSession: update_session,
    ops.PutMember: put_member,
    ops.RemoveMember: remove_member,
    ops.NewPlan: new_plan,
    ops.UpdatePlan: update_plan,
    ops.PutApproval: _inserting(rows.approval, "approval", _APPROVAL_KEPT),
    ops.UpdatePlanItem: update_plan_item,
    ops.AddModification: _inserting(rows.modification, "modification"),
    ops.PutSettings: put_settings,
    ops.Touch: touch,
    ops.NewRequest: _inserting(rows.request, "request"),
    ops.UpdateRequest: update_request,
    ops.PutVote: _inserting(rows.vote, "vote", _VOTE_KEPT),
}


# The hot ops' values, encoded by `bind` before the unit runs (on the event loop, not on
# SQLite's writer thread, whose time every unit of a group commit waits for).
Binder = Callable[[Any, bool], Any]
BIND: dict[type, Binder] = {
    ops.NewSession: _session_values,
    ops.AddEvent: lambda op, text_times: _event_values(op.event, text_times),
    ops.CheckedEvent: lambda op, text_times: _event_values(op.event, text_times),
    ops.Enqueue: lambda op, text_times: row_values(
        "outbox", op.row, rows.outbox.columns, text_times=text_times
    ),
}
_BOUND: dict[type, Callable[[Tx, Any, Any], Coroutine[Any, Any, Any]]] = {
    ops.NewSession: new_session,
    ops.CheckedEvent: checked_event,
    ops.Enqueue: enqueue,
}


def bind(unit: Sequence[ops.Op], dialect: Dialect) -> list[Any]:
    """The encoded values of each op of `unit` (None for an op encoded as it applies)."""
    found = []
    for op in unit:
        binder = BIND.get(type(op))
        found.append(None if binder is None else binder(op, dialect.text_times))
    return found


async def apply_all(
    tx: Tx, unit: Sequence[ops.Op], bound: Sequence[Any] | None = None
) -> list[Any]:
    """Apply every op of a unit in order, inside the caller's transaction; `bound` is
    `bind(unit)` when the caller encoded it already.

    An event's session row is locked once per unit: a session the unit inserted, or whose
    event it already added, is held until commit (one round trip less per event).
    """
    if bound is None:
        bound = bind(unit, tx.dialect)
    held: set[str] = set()
    results = []
    for op, values in zip(unit, bound, strict=True):
        kind = type(op)
        if isinstance(op, ops.AddEvent):
            session_id = op.event.session_id
            results.append(await add_event(tx, op, values, locked=session_id in held))
            held.add(session_id)
        elif values is not None:
            results.append(await _BOUND[kind](tx, op, values))
            if isinstance(op, ops.NewSession):
                held.add(op.session.id)
        else:
            results.append(await APPLY[kind](tx, op))
    for row in await homes.refresh_rows(tx, unit):  # the Homes this change shows in
        await enqueue(tx, ops.Enqueue(row))
    return results
