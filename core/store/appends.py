"""Agents' progress events on PostgreSQL, appended in groups (`Appends`).

On PostgreSQL every statement of a unit is a round trip, and so are BEGIN and COMMIT: a lone
`ops.CheckedEvent` (an agent reporting a tool call, the most frequent write there is) costs
four — BEGIN, its session's facts under a row lock, the insert, COMMIT — and a commit of its own.
SQLite's writer already commits together every unit queued meanwhile (sqlite/engine.py); this
does the same for that one op on PostgreSQL. While `LANES` groups are in flight the events
submitted meanwhile wait, and the next free lane takes them all (at most `GROUP_MOST`) into one
unit, `checked_events`:

1. one statement reads every named session's facts and each actor's role, locking the session
   rows in id order (so two groups never wait on each other in opposite orders);
2. the core's check runs for each event: an event refused gets its own error, writes nothing;
3. one statement inserts the events that passed, each session's seqs continuing from its last
   in the order they were submitted — a statement after the lock, so its snapshot holds every
   event committed before (why `writes._ADD_EVENT` takes the seq in the insert too);
4. activity is recorded once per session, at its latest event, when due (`coalesce_activity`);
5. the commit carries the NOTIFY of each session's event key.

Ten events thus cost four round trips and one commit instead of forty and ten. A group that
fails as a whole on bad input (a NUL in an actor's id or other text) runs again one event per
unit, so that only the offending event fails; any other failure reaches every caller of the
group, as it would have reached each alone. A unit holding more than the event (webhook rows)
or carrying a delivery key (core/store/claims.py) is not grouped: it runs as any unit does.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Sequence
from typing import Any

from core.errors import UsageError
from core.store import ops, wakes
from core.store.codec import ref_key
from core.store.db import Database, Tx
from core.store.facts import COLUMNS, facts_of, missing
from core.store.writes import coalesce_activity

LANES = 4  # groups in flight at once (each holds one pooled connection while it runs)
GROUP_MOST = 100  # events in one group

Item = tuple[ops.CheckedEvent, tuple[Any, ...]]  # an op and its bound values (`writes.bind`)
Waiting = tuple[ops.CheckedEvent, tuple[Any, ...], "asyncio.Future[int]"]  # and its caller

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


class Appends:
    """The queue of lone checked events and the lanes that commit them in groups."""

    def __init__(self, db: Database, *, lanes: int = LANES, most: int = GROUP_MOST) -> None:
        self.db = db
        self.lanes = lanes
        self.most = most
        self.groups = 0  # units run (a group run again one event per unit counts each)
        self._waiting: deque[Waiting] = deque()
        self._busy = 0  # lanes running
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, op: ops.CheckedEvent, bound: tuple[Any, ...]) -> int:
        """Append `op`'s event with the next group; its seq once that group has committed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((op, bound, future))
        if self._busy < self.lanes:
            self._busy += 1
            # a context of its own: nothing of the first caller's reaches the others' unit
            task = asyncio.create_task(self._lane(), context=contextvars.Context())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def drain(self) -> None:
        """Return once every event submitted so far has been committed or refused."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _lane(self) -> None:
        try:
            while self._waiting:
                taken: list[Waiting] = []
                while self._waiting and len(taken) < self.most:
                    item = self._waiting.popleft()
                    if not item[2].done():  # a caller cancelled while waiting: not written
                        taken.append(item)
                if taken:
                    await self._run(taken)
        finally:
            self._busy -= 1  # in the same step as the last look at the queue: none is left behind

    async def _run(self, taken: list[Waiting]) -> None:
        group = [(op, bound) for op, bound, _ in taken]
        results: list[int | Exception] | None = None
        try:
            results = await self._results(group)
        except Exception as failed:
            results = [failed] * len(group)
        finally:  # results None: the lane itself was cancelled (the loop is stopping)
            for i, (_, _, future) in enumerate(taken):
                if future.done():
                    continue
                if results is None:
                    future.cancel()
                elif isinstance(result := results[i], Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _results(self, group: list[Item]) -> list[int | Exception]:
        try:
            return await self._commit(group)
        except UsageError:
            if len(group) == 1:
                raise
        results: list[int | Exception] = []  # bad input somewhere: each alone, so only it fails
        for item in group:
            try:
                results.extend(await self._commit([item]))
            except UsageError as bad:
                results.append(bad)
        return results

    async def _commit(self, group: list[Item]) -> list[int | Exception]:
        self.groups += 1
        return await self.db.transact(lambda tx: checked_events(tx, group))
