"""New sessions on PostgreSQL, written in groups (groups.py explains grouping).

A session start's unit (its ref was reserved before, in a statement of its own) inserts rows
that did not exist: the session, its members, its first events, its card's outbox row and any
webhook rows — seven round trips alone (BEGIN, five statements, COMMIT). Nothing in it can be
refused by what another writer did (the ids are new, the ref is reserved), so a group of such
units is written by one statement per table, each sent once for all its rows (asyncpg's
`executemany` pipelines them): the same INSERTs as `writes.apply_all` uses, the events with
their seqs counted from 1 per new session in unit order (no one else can add an event to a
session not yet committed), the Homes to republish looked up once for the group, and one read
to learn which outbox rows were added (a dedupe key already taken adds nothing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from core.store import homes, ops, wakes
from core.store.db import Tx, marks
from core.store.decode import rows
from core.store.encode import row_values
from core.store.writes import ENQUEUE, EVENT_AT, INSERT_MEMBERS, INSERT_SESSION, allocating_refs

Unit = tuple[Sequence[ops.Op], Sequence[Any]]  # a unit's ops and their bound values (`bind`)


def groupable(unit: Sequence[ops.Op]) -> bool:
    """Whether `unit` only inserts new sessions and what belongs to them: the sessions, events
    of those sessions, outbox rows."""
    born = {op.session.id for op in unit if isinstance(op, ops.NewSession)}
    return bool(born) and all(
        isinstance(op, ops.NewSession | ops.Enqueue)
        or (type(op) is ops.AddEvent and op.event.session_id in born)
        for op in unit
    )


async def new_sessions(tx: Tx, group: Sequence[Unit]) -> list[list[Any] | Exception]:
    """Each unit's results, as `apply_all` gives them: None per session, each event's seq,
    whether each outbox row was added."""
    sessions: list[Any] = []
    members: list[Any] = []
    events: list[Any] = []
    outbox: list[Any] = []
    results: list[list[Any]] = []
    for unit, bound in group:
        seqs: Counter[str] = Counter()
        found: list[Any] = []
        for op, values in zip(unit, bound, strict=True):
            if isinstance(op, ops.NewSession):
                sessions.append(values[0])
                members.extend(values[1])
                tx.wake(wakes.events(op.session.id))
                found.append(None)
            elif isinstance(op, ops.AddEvent):
                session_id = op.event.session_id
                seqs[session_id] += 1
                events.append((values[0], session_id, seqs[session_id], *values[1:]))
                found.append(seqs[session_id])
            else:
                outbox.append(values)
                found.append(values[0])  # the row's id, for now: whether it was added, below
        results.append(found)
    await tx.executemany(INSERT_SESSION, sessions)
    for sql, values in ((INSERT_MEMBERS, members), (EVENT_AT, events)):
        if values:
            await tx.executemany(sql, values)
    for session_id in {e[1] for e in events}:
        tx.wake(wakes.events(session_id))
    republish = await homes.refresh_rows(tx, [op for unit, _ in group for op in unit])
    text_times = tx.dialect.text_times
    outbox += [
        row_values("outbox", r, rows.outbox.columns, text_times=text_times) for r in republish
    ]
    if outbox:
        await tx.executemany(ENQUEUE, outbox)
        ids = [values[0] for values in outbox]
        added = {r[0] for r in await tx.fetchall(
            f"SELECT id FROM outbox WHERE id IN ({marks(len(ids))})", ids
        )}  # fmt: skip
        if added:
            tx.wake(wakes.OUTBOX)
        for unit_results, (unit, _) in zip(results, group, strict=True):
            for i, op in enumerate(unit):
                if isinstance(op, ops.Enqueue):
                    unit_results[i] = unit_results[i] in added
    return list(results)


async def allocate_refs(tx: Tx, group: Sequence[str]) -> list[int | Exception]:
    """A ref for each workspace of `group` (one per time it is named, in order): one statement
    per workspace reserves its block, the workspaces taken in name order."""
    wanted = Counter(group)
    following: dict[str, int] = {}
    for workspace in sorted(wanted):
        row = await tx.fetchone(*allocating_refs(workspace, wanted[workspace]))
        assert row is not None
        following[workspace] = int(row[0])
    refs: list[int | Exception] = []
    for workspace in group:
        refs.append(following[workspace])
        following[workspace] += 1
    return refs
