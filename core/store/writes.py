"""Applying write ops inside a unit's transaction, once for both backends.

Concurrency: SQLite has one writer thread, so a unit sees no one else's writes. On
PostgreSQL, compare-and-set updates (`… WHERE id = ? AND version = ?`) re-check their
condition after waiting for a concurrent writer's row lock, so exactly one of two racing
decisions matches a row, and per-session sequence numbers (events, messages) are taken under
the session row's lock (`Dialect.lock_rows`), so two replicas appending to one session queue
up instead of colliding on `UNIQUE (session_id, seq)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter
from typing import Any

from core.errors import Conflict, NotFound
from core.models import CURRENT_PLAN_STATUSES, JSON, OPEN_STATUSES
from core.store import homes, ops, wakes
from core.store.codec import dumps, ref_key, sql_in, when_required
from core.store.db import Tx, marks
from core.store.decode import Decoder, rows
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


# Columns holding a JSON document, by table (the same name is plain text in another table).
_JSON_COLUMNS: dict[str, frozenset[str]] = {
    "sessions": frozenset({"context", "metadata"}),
    "events": frozenset({"data"}),
    "messages": frozenset({"metadata"}),
    "plan_items": frozenset({"comments"}),
    "outbox": frozenset({"target", "payload"}),
    "requests": frozenset({"args", "approvers", "choices", "edited_args"}),
    "webhook_subscriptions": frozenset({"events"}),
    "installations": frozenset({"data"}),
}
_PLAIN: frozenset[str] = frozenset()
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
# One row per person: a later decision replaces the earlier one.
_APPROVAL_KEPT = replacing("plan_id, user_id", "decision, content_hash, reason, at")
_VOTE_KEPT = replacing("request_id, user_id", "decision, digest, reason, at")


def _bound(table: str, column: str, value: Any) -> Any:
    """A value as bound to `column` of `table`: a JSON document as its text, an enum by its
    value."""
    if column in _JSON_COLUMNS.get(table, _PLAIN):
        return dumps(value)
    return value.value if isinstance(value, StrEnum) else value


@lru_cache(maxsize=64)
def _columns(table: str, columns: str) -> tuple[tuple[str, ...], attrgetter[Any], tuple[int, ...]]:
    """`columns` as names, one getter of them all and the positions holding JSON documents,
    worked out once per column list (inserts are the hot path: no per-column lookup)."""
    names, json = tuple(columns.split(", ")), _JSON_COLUMNS.get(table, _PLAIN)
    return names, attrgetter(*names), tuple(i for i, n in enumerate(names) if n in json)


def row_values(table: str, record: Any, columns: str, **given: Any) -> tuple[Any, ...]:
    """`record`'s values for `columns` of `table` as bound: a JSON document as its text, an
    enum by its value; `given` ones are columns it has no field for."""
    names, getter, json = _columns(table, columns)
    if given:
        values = [given[n] if n in given else getattr(record, n) for n in names]
    else:
        values = list(getter(record))
    for i in json:
        values[i] = dumps(values[i])
    return tuple(v.value if isinstance(v, StrEnum) else v for v in values)


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
        [*(_bound(table, name, changes[name]) for name in names), *guards.values()],
    )
    return changed == 1


async def allocate_ref(tx: Tx, op: ops.AllocateRef) -> int:
    row = await tx.fetchone(
        "INSERT INTO workspaces (workspace, next_ref) VALUES (?, 2) ON CONFLICT (workspace)"
        " DO UPDATE SET next_ref = workspaces.next_ref + 1 RETURNING next_ref - 1",
        (op.workspace,),
    )
    assert row is not None
    return int(row[0])


async def new_session(tx: Tx, op: ops.NewSession) -> None:
    await _put(tx, "sessions", rows.session.columns, op.session)
    await insert_all(tx, "members", _MEMBER, op.members, _MEMBER_KEPT, session_id=op.session.id)


async def update_session(tx: Tx, op: ops.UpdateSession) -> int:
    where = {
        "id = ?": op.session_id,
        "version = ?": op.expected_version,
        "status = ?": op.expected_status,
        "abandon_at <= ?": op.due_by,  # activity since the sweep looked pushed it: no verdict
    }
    if not await _update(tx, "sessions", op.changes, _SESSION_FIELDS, where, bump="version"):
        raise Conflict("The session was changed by someone else at the same moment; try again.")
    return op.expected_version + 1


async def lock_session(tx: Tx, session_id: str) -> None:
    """Hold the session row until commit: per-session seqs are taken one writer at a time."""
    if tx.dialect.row_locks:
        await tx.execute(
            "SELECT 1 FROM sessions WHERE id = ?" + tx.dialect.lock_rows("sessions"), (session_id,)
        )


async def add_event(tx: Tx, op: ops.AddEvent, *, locked: bool = False) -> int:
    """Append an event; `locked` when the unit already holds the session row (no second trip)."""
    e = op.event
    if not locked:
        await lock_session(tx, e.session_id)
    row = await tx.fetchone(
        "INSERT INTO events (id, session_id, seq, type, actor_id, source, data, created_at)"
        " SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM events WHERE session_id = ?"
        " RETURNING seq",
        (e.id, e.session_id, e.type.value, e.actor_id, e.source.value, dumps(e.data),
         e.created_at, e.session_id),
    )  # fmt: skip
    assert row is not None
    tx.wake(wakes.events(e.session_id))
    return int(row[0])


async def enqueue(tx: Tx, op: ops.Enqueue) -> bool:
    once = " ON CONFLICT (dedupe_key) DO NOTHING"
    added = await _put(tx, "outbox", rows.outbox.columns, op.row, once) == 1
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


async def session_facts(tx: Tx, workspace: str, ref: str, actor_id: str) -> SessionFacts:
    """The session `ref` names (its row held until commit) and the actor's role in it."""
    key = ref_key(ref)
    by = "ref" if isinstance(key, int) else "id"
    row = await tx.fetchone(
        "SELECT s.id, s.ref, s.status, s.owner_id, s.last_activity_at, m.role FROM sessions s"
        " LEFT JOIN members m ON m.session_id = s.id AND m.user_id = ?"
        f" WHERE s.workspace = ? AND s.{by} = ?" + tx.dialect.lock_rows("s"),
        (actor_id, workspace, key),
    )
    if row is None:
        raise NotFound("session", f"#{key}" if isinstance(key, int) else ref)
    return SessionFacts(row[0], row[1], row[2], row[3], when_required(row[4]), row[5])


async def coalesce_activity(
    tx: Tx, facts: SessionFacts, at: datetime, *, touch_after: timedelta, abandon_after: timedelta
) -> None:
    """Record activity at `at` unless the last one is younger than `touch_after` (one write
    per window instead of one per event); only an open session gets a new abandon deadline."""
    if at - facts.last_activity_at >= touch_after:
        deadline = at + abandon_after if facts.status in OPEN_STATUSES else None
        await touch(tx, ops.Touch(facts.session_id, at, deadline))


async def checked_event(tx: Tx, op: ops.CheckedEvent) -> int:
    facts = await session_facts(tx, op.workspace, op.ref, op.event.actor_id)
    op.check(facts)
    event = dataclasses.replace(op.event, session_id=facts.session_id)
    seq = await add_event(tx, ops.AddEvent(event), locked=True)  # session_facts holds it
    await coalesce_activity(
        tx, facts, event.created_at, touch_after=op.touch_after, abandon_after=op.abandon_after
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
    ops.NewSession: new_session,
    ops.UpdateSession: update_session,
    ops.AddEvent: add_event,
    ops.Enqueue: enqueue,
    ops.PutMember: put_member,
    ops.RemoveMember: remove_member,
    ops.NewPlan: new_plan,
    ops.UpdatePlan: update_plan,
    ops.PutApproval: _inserting(rows.approval, "approval", _APPROVAL_KEPT),
    ops.UpdatePlanItem: update_plan_item,
    ops.AddModification: _inserting(rows.modification, "modification"),
    ops.PutSettings: put_settings,
    ops.Touch: touch,
    ops.CheckedEvent: checked_event,
    ops.NewRequest: _inserting(rows.request, "request"),
    ops.UpdateRequest: update_request,
    ops.PutVote: _inserting(rows.vote, "vote", _VOTE_KEPT),
}


async def apply_all(tx: Tx, unit: Sequence[ops.Op]) -> list[Any]:
    """Apply every op of a unit in order, inside the caller's transaction.

    An event's session row is locked once per unit: a session the unit inserted, or whose
    event it already added, is held until commit (one round trip less per event).
    """
    held: set[str] = set()
    results = []
    for op in unit:
        if isinstance(op, ops.AddEvent):
            session_id = op.event.session_id
            results.append(await add_event(tx, op, locked=session_id in held))
            held.add(session_id)
            continue
        results.append(await APPLY[type(op)](tx, op))
        if isinstance(op, ops.NewSession):
            held.add(op.session.id)
    for row in await homes.refresh_rows(tx, unit):  # the Homes this change shows in
        await enqueue(tx, ops.Enqueue(row))
    return results
