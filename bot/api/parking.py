"""Parked waits: the long-polls (`GET /requests/{id}?wait=`) and event streams an API token
holds open in this process, capped per token, each ended as soon as its client has gone.

A parked wait costs the server a socket, a task and a wake-up registration for as long as it
lasts (up to 60 s for a long-poll, an hour for a stream), so one token (one leaked secret, one
runaway agent) must not hold an unbounded number of them: past `per_token` the next one is
refused with 429 and `Retry-After`, nothing else changed. A slot is given back when the wait
ends, however it ends: decided, timed out, stream closed, client gone, handler cancelled.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from aiohttp import web

from bot.api.errors import ApiError

T = TypeVar("T")
ALIVE_EVERY = 0.5  # seconds between checks that a parked client is still connected
RETRY_AFTER = 5  # seconds a refused client is told to wait: a long-poll lasts at most 60 s


class Parking:
    """How many waits each token holds open (`slot`), and the parked waits whose client is
    watched (`unless_gone`): one sweep every ALIVE_EVERY seconds looks at every parked client's
    connection, rather than each wait waking up on its own timer to look at its own."""

    def __init__(self, per_token: int, *, alive_every: float = ALIVE_EVERY) -> None:
        self.per_token = per_token
        self.alive_every = alive_every
        self._held: Counter[str] = Counter()
        self._watched: dict[asyncio.Future[None], web.Request] = {}
        self._sweep: asyncio.TimerHandle | None = None

    @contextmanager
    def slot(self, token_id: str) -> Iterator[None]:
        """Hold one of `token_id`'s slots inside the block; 429 when it holds them all."""
        if self._held[token_id] >= self.per_token:
            raise ApiError(
                429,
                "too_many_waits",
                f"This token already holds {self.per_token} open waits (long-polls and event "
                "streams), the most one token may; let one end first.",
                headers={"Retry-After": str(RETRY_AFTER)},
            )
        self._held[token_id] += 1
        try:
            yield
        finally:
            self._held[token_id] -= 1
            if not self._held[token_id]:
                del self._held[token_id]

    def held(self, token_id: str | None = None) -> int:
        """The waits `token_id` holds open (all tokens' when None)."""
        return self._held[token_id] if token_id is not None else self._held.total()

    async def unless_gone(self, request: web.Request, work: Awaitable[T]) -> T | None:
        """`work`'s result, or None once the client has disconnected (then `work` is
        cancelled, so a parked wait leaves no waiter behind)."""
        task = asyncio.ensure_future(work)
        gone = asyncio.get_running_loop().create_future()
        self._watched[gone] = request
        self._sweep_soon()
        try:
            await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            task.cancel()
            await asyncio.wait({task})
            return None
        finally:
            del self._watched[gone]
            gone.cancel()
            task.cancel()  # the handler itself was cancelled (shutdown): stop waiting too

    def _sweep_soon(self) -> None:
        if self._sweep is None:
            loop = asyncio.get_running_loop()
            self._sweep = loop.call_later(self.alive_every, self._look)

    def _look(self) -> None:
        """Tell every parked wait whose client has gone; look again later while any is parked."""
        self._sweep = None
        for gone, request in self._watched.items():
            if not gone.done() and _gone(request):
                gone.set_result(None)
        if self._watched:
            self._sweep_soon()


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


__all__ = ["ALIVE_EVERY", "Parking"]
