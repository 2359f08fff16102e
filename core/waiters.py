"""Wake-ups by key inside one process: a long-poll waits on a key (a request id), and the
service that committed a change to it wakes every waiter at once. Nothing polls the database;
each waiter costs one `asyncio.Event` while it waits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class Waiters:
    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    @contextmanager
    def watch(self, key: str) -> Iterator[asyncio.Event]:
        """An event set by the next `wake(key)`; watch *before* reading the state waited on,
        so a change committed between the read and the wait is not missed."""
        event = asyncio.Event()
        self._waiting.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiting.get(key)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiting[key]

    def wake(self, key: str) -> None:
        for event in self._waiting.get(key, ()):
            event.set()

    def __len__(self) -> int:
        return sum(len(events) for events in self._waiting.values())
