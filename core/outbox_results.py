"""Recording what became of delivered outbox rows: the rows that lanes finish together share
one commit.

A lane hands over the results of the rows it delivered in a run (core/outbox.py). While one
commit of results is in flight, the results handed over meanwhile wait and then go in the next
one, whichever lanes they come from: many lanes finishing at once cost one commit, not one
each, and a single lane's results are written as soon as the store is free.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from core.store.outbox import Delivered, Failed, Outbox


class Results:
    """Group commits of delivery results over `outbox`."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self._queued: list[Delivered | Failed] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None
        self.commits = 0

    async def record(self, results: Sequence[Delivered | Failed]) -> None:
        """Return once `results` are committed (raising what the commit raised)."""
        if not results:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._queued.extend(results)
        self._waiters.append(waiter)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await asyncio.shield(waiter)  # a lane cancelled meanwhile does not cancel the others'

    async def _write(self) -> None:
        while self._queued:
            results, waiters = self._queued, self._waiters
            self._queued, self._waiters = [], []
            try:
                await self.outbox.record(results)
                self.commits += 1
            except Exception as exc:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
