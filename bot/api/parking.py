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
    """How many waits each token holds open; `slot` takes one for as long as a wait lasts."""

    def __init__(self, per_token: int) -> None:
        self.per_token = per_token
        self._held: Counter[str] = Counter()

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


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def unless_gone(request: web.Request, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None once the client has disconnected (then `work` is cancelled,
    so a parked wait leaves no waiter behind)."""
    task = asyncio.ensure_future(work)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=ALIVE_EVERY)
            if not task.done() and _gone(request):
                task.cancel()
                await asyncio.wait({task})
                return None
        return task.result()
    finally:
        task.cancel()  # the handler itself was cancelled (shutdown): stop waiting too


__all__ = ["ALIVE_EVERY", "Parking", "unless_gone"]
