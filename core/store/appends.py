"""Agents' progress events on PostgreSQL, appended in groups (groups.py explains grouping).

A lone `ops.CheckedEvent` (an agent reporting a tool call, the most frequent write there is)
costs four round trips on its own — BEGIN, its session's facts under a row lock, the insert,
COMMIT — and a commit. `checked_events` writes a whole group of them in one transaction:

1. one statement reads every named session's facts and each actor's role, locking the session
   rows in id order (so two groups never wait on each other in opposite orders);
2. the core's check runs for each event: an event refused gets its own error, writes nothing;
3. one statement inserts the events that passed, each session's seqs continuing from its last
   in the order they were submitted — a statement after the lock, so its snapshot holds every
   event committed before (why `writes._ADD_EVENT` takes the seq in the insert too);
4. activity is recorded once per session, at its latest event, when due (`coalesce_activity`);
5. the commit carries the NOTIFY of each session's event key.

Ten events thus cost four round trips and one commit instead of forty and ten. A unit holding
more than the event (webhook rows) or carrying a delivery key (core/store/claims.py) is not
grouped: it runs as any unit does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.store import ops, wakes
from core.store.codec import ref_key
from core.store.db import Tx
from core.store.facts import COLUMNS, facts_of, missing
from core.store.writes import coalesce_activity

Item = tuple[ops.CheckedEvent, tuple[Any, ...]]  # an op and its bound values (`writes.bind`)

_FACTS = (
    f"SELECT {COLUMNS}, w.i FROM unnest(?::text[], ?::bigint[], ?::text[], ?::text[])"
    " WITH ORDINALITY AS w(workspace, ref, id, actor, i)"
    " JOIN sessions s ON s.workspace = w.workspace AND s.id = COALESCE(w.id,"
    " (SELECT r.id FROM sessions r WHERE r.workspace = w.workspace AND r.ref = w.ref))"
    " LEFT JOIN members m ON m.session_id = s.id AND m.user_id = w.actor"
    " ORDER BY s.id FOR NO KEY UPDATE OF s"
)
_INSERT = (
    "INSERT INTO events (id, session_id, seq, type, actor_id, source, data, created_at)"
    " SELECT w.id, w.session_id, COALESCE((SELECT MAX(seq) FROM events e"
    " WHERE e.session_id = w.session_id), 0)"
    " + row_number() OVER (PARTITION BY w.session_id ORDER BY w.i),"
    " w.type, w.actor_id, w.source, w.data::json, w.created_at"
    " FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],"
    " ?::timestamptz[]) WITH ORDINALITY AS w(id, session_id, type, actor_id, source, data,"
    " created_at, i) RETURNING id, seq"
)


async def checked_events(tx: Tx, group: Sequence[Item]) -> list[int | Exception]:
    """Each event's seq, or the error its check (or its missing session) gave; one unit."""
    keys = [ref_key(op.ref) for op, _ in group]
    found = await tx.fetchall(
        _FACTS,
        (
            [op.workspace for op, _ in group],
            [key if isinstance(key, int) else None for key in keys],
            [None if isinstance(key, int) else key for key in keys],
            [op.event.actor_id for op, _ in group],
        ),
    )
    facts = {int(row[6]) - 1: facts_of(row) for row in found}
    results: list[int | Exception] = []
    passed: list[int] = []
    for i, (op, _) in enumerate(group):
        seen = facts.get(i)
        try:
            if seen is None:
                raise missing(op.ref)
            op.check(seen)
        except Exception as refused:  # the caller's own error, as its unit alone would give
            results.append(refused)
            continue
        results.append(0)
        passed.append(i)
    if not passed:
        return results
    rows = [(group[i][1][0], facts[i].session_id, *group[i][1][1:]) for i in passed]
    columns = [list(column) for column in zip(*rows, strict=True)]
    seqs = {row[0]: int(row[1]) for row in await tx.fetchall(_INSERT, columns)}
    latest: dict[str, int] = {}  # session id → its latest event in the group
    for i in passed:
        results[i] = seqs[group[i][1][0]]
        session_id = facts[i].session_id
        if session_id not in latest or _at(group, i) >= _at(group, latest[session_id]):
            latest[session_id] = i
    for session_id, i in sorted(latest.items()):
        op = group[i][0]
        await coalesce_activity(
            tx, facts[i], _at(group, i), touch_after=op.touch_after, abandon_after=op.abandon_after
        )
        tx.wake(wakes.events(session_id))
    return results


def _at(group: Sequence[Item], i: int) -> Any:
    return group[i][0].event.created_at
