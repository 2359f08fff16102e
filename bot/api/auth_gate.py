"""Failed-authentication credits per client address, and the token lookups in flight."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Credits(Protocol):
    def take(self, key: str) -> float | None: ...
    def refund(self, key: str) -> None: ...


class AuthGate:
    """The failed-authentication credits of each client address (`failures`), taken before
    a token is looked up, and the lookups in flight per address. Credits held by lookups in
    flight are not failures: `admit` waits for one of those lookups to end and tries again;
    only an address whose credits are spent on failures is refused."""

    def __init__(self, failures: Credits) -> None:
        self.failures = failures
        self._in_flight: dict[str, int] = {}
        self._ended: dict[str, asyncio.Future[None]] = {}

    async def admit(self, client: str) -> float | None:
        """None when a lookup may start (counted in flight), else seconds to wait."""
        while True:
            held = self.failures.take(client)
            if held is None:
                self._in_flight[client] = self._in_flight.get(client, 0) + 1
                return None
            if not self._in_flight.get(client):
                return held
            ended = self._ended.get(client)
            if ended is None:
                ended = self._ended[client] = asyncio.get_running_loop().create_future()
            await asyncio.shield(ended)

    def release(self, client: str, *, good: bool) -> None:
        """A lookup ended: a good token gives its credit back; waiters try again."""
        if good:
            self.failures.refund(client)
        left = self._in_flight.pop(client, 1) - 1
        if left:
            self._in_flight[client] = left
        ended = self._ended.pop(client, None)
        if ended is not None and not ended.done():
            ended.set_result(None)


__all__ = ["AuthGate"]
