"""Group commit on PostgreSQL for the most frequent writes (`Grouper`).

On PostgreSQL every statement of a unit is a round trip, and so are BEGIN and COMMIT, and each
unit commits on its own. SQLite's writer already commits together every unit queued meanwhile
(sqlite/engine.py); a `Grouper` does the same on PostgreSQL for one kind of unit whose many
copies can be written by a few statements: agents' progress events (appends.py), new sessions
and their ref reservations (births.py). While `lanes` groups of a kind are in flight, the units
submitted meanwhile wait, and the next free lane takes them all (at most `most`) into one
transaction run by the kind's group function, which returns each unit's own result or its own
error. A group of one runs as the unit does alone (`alone`, when the kind has one).

A group that fails as a whole on bad input (a NUL in some text, which PostgreSQL refuses) runs
again one unit per transaction, so that only the offending unit fails; any other failure (the
database gone) reaches every caller of the group, as it would have reached each alone; a
deadlock or serialization failure replays the group like any unit (a pure function of the
database). A caller cancelled while its unit waits is left out; `drain` (at close) returns once
every unit already submitted has committed or failed.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

from core.errors import UsageError
from core.store.db import Database, Tx

LANES = 4  # groups of one kind in flight at once (each holds a pooled connection as it runs)
MOST = 100  # units in one group

U = TypeVar("U")  # what a caller submits
R = TypeVar("R")  # what it gets back
GroupFunction = Callable[[Tx, Sequence[U]], Coroutine[Any, Any, list[R | Exception]]]
Alone = Callable[[U], Awaitable[R]]


class Grouper(Generic[U, R]):
    """The queue of one kind of unit and the lanes that commit them in groups."""

    def __init__(
        self,
        db: Database,
        apply: GroupFunction[U, R],
        alone: Alone[U, R] | None = None,
        *,
        lanes: int = LANES,
        most: int = MOST,
    ) -> None:
        """`apply` writes a group in one transaction; `alone`, when given, writes a group of
        one as that unit does when not grouped (no dearer than before for a lone caller)."""
        self.db = db
        self.apply = apply
        self.alone = alone
        self.lanes = lanes
        self.most = most
        self.groups = 0  # transactions run (a group run again one unit each counts each)
        self._waiting: deque[tuple[U, asyncio.Future[R]]] = deque()
        self._busy = 0  # lanes running
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: U) -> R:
        """`item` committed with the next group of its kind; its result once that commits."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._busy < self.lanes:
            self._busy += 1
            # a context of its own: nothing of the first caller's reaches the others' units
            task = asyncio.create_task(self._lane(), context=contextvars.Context())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def drain(self) -> None:
        """Return once every unit submitted so far has been committed or has failed."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _lane(self) -> None:
        try:
            while self._waiting:
                taken: list[tuple[U, asyncio.Future[R]]] = []
                while self._waiting and len(taken) < self.most:
                    item, future = self._waiting.popleft()
                    if not future.done():  # a caller cancelled while waiting: not written
                        taken.append((item, future))
                if taken:
                    await self._run(taken)
        finally:
            self._busy -= 1  # in the same step as the last look at the queue: none is left behind

    async def _run(self, taken: list[tuple[U, asyncio.Future[R]]]) -> None:
        results: list[R | Exception] | None = None
        try:
            results = await self._results([item for item, _ in taken])
        except Exception as failed:
            results = [failed] * len(taken)
        finally:  # results None: the lane itself was cancelled (the loop is stopping)
            for i, (_, future) in enumerate(taken):
                if future.done():
                    continue
                if results is None:
                    future.cancel()
                elif isinstance(result := results[i], Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _results(self, group: list[U]) -> list[R | Exception]:
        try:
            return await self._commit(group)
        except UsageError:
            if len(group) == 1:
                raise
        results: list[R | Exception] = []  # bad input somewhere: each alone, so only it fails
        for item in group:
            try:
                results.extend(await self._commit([item]))
            except UsageError as bad:
                results.append(bad)
        return results

    async def _commit(self, group: list[U]) -> list[R | Exception]:
        self.groups += 1
        if len(group) == 1 and self.alone is not None:
            return [await self.alone(group[0])]
        return await self.db.transact(lambda tx: self.apply(tx, group))
