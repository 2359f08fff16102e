"""Idempotent API writes: the first response to a key is kept and replayed to retries.

The key is claimed in the inbound dedupe ledger (§1) before the request acts, in the same
transaction that records a fingerprint of the request, so a retry never acts twice and a
different request reusing the key is recognised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

# A claim still without a response this long after it was taken belongs to a request that
# died with its process (a crash, a kill): the next retry takes the key over and acts.
IN_PROGRESS_LEASE = timedelta(minutes=2)


@dataclass(slots=True)
class StoredResponse:
    """What the first request with a key left: its fingerprint and, once done, its response."""

    request_hash: str
    status: int | None = None
    body: str | None = None

    @property
    def finished(self) -> bool:
        return self.status is not None


class IdempotencyStore(Protocol):
    """What idempotent API writes need from a store (`store.idempotency`)."""

    async def claim(
        self, key: str, request_hash: str, *, now: datetime, lease: timedelta
    ) -> StoredResponse | None:
        """None when `key` is new (now claimed) or its unanswered claim is older than
        `lease` (taken over: `IN_PROGRESS_LEASE`); else what the first request left."""
        ...

    async def finish(self, key: str, *, status: int, body: str) -> None: ...
    async def release(self, key: str) -> None:
        """Forget a claim whose request failed unexpectedly, so a retry may act."""
        ...


__all__ = ["IdempotencyStore", "StoredResponse"]
