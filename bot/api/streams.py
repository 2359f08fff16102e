"""The event streams this process holds open (bot/api/event_stream.py), capped per token and
in all; what each holds is where it is in its session's events, never a queue of them."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

from bot.api.errors import ApiError


@dataclass(slots=True)
class Stream:
    """One open stream: whose it is and the seq of the last event written (no queue)."""

    token_id: str
    session_id: str
    sent: int
    response: web.StreamResponse
    transport: asyncio.Transport | None  # what the server holds for it: the socket's buffer


@dataclass(slots=True)
class Streams:
    """The open streams of this process, capped per token and in all."""

    per_token: int
    total: int
    live: list[Stream] = field(default_factory=list)
    closing: bool = False
    _by_token: Counter[str] = field(default_factory=Counter)

    @contextmanager
    def opened(self, stream: Stream) -> Iterator[Stream]:
        if self.closing:
            raise ApiError(503, "shutting_down", "The server is shutting down.")
        if len(self.live) >= self.total or self._by_token[stream.token_id] >= self.per_token:
            raise ApiError(
                429, "too_many_streams", "Too many event streams are open; close one first."
            )
        self.live.append(stream)
        self._by_token[stream.token_id] += 1
        try:
            yield stream
        finally:
            self.live.remove(stream)
            self._by_token[stream.token_id] -= 1
            if not self._by_token[stream.token_id]:
                del self._by_token[stream.token_id]
