"""An inbound delivery's claim, committed by the first unit of work its command writes.

A chat platform redelivers an event it thinks was lost (Slack's retries, a replayed Discord
interaction), so a command or click that comes with a delivery key must act once. Its key is
claimed — a row of `inbound_dedupe` — in the same transaction as the change it makes:

- `CommandRunner` opens a `Claim` for the command (`claiming`, a context variable: no service
  signature carries it). While it is open, the first unit of work the command writes, whichever
  service or repository writes it, starts with the claim statement (`Database.write` asks
  `pending`). That one commit both claims the key and applies the change: exactly once by
  construction, and one commit per decision. A redelivery's unit finds the key claimed, raises
  AlreadyHandled and rolls back whole; every later write of that command is refused at once;
  the runner answers nothing.
- Writes of one command that run concurrently wait for the unit carrying the claim, so the
  claim is committed once and never refused to the command that holds it.
- A command that writes nothing (a read such as `list`, a refusal, a repeated click) has no
  unit to carry the claim: the runner claims the key in its own statement once the command has
  run (`settle`). Running a read twice changes nothing, and a redelivery that finds the key
  claimed answers nothing, so what shows — the answer — still happens once.

Work the command leaves running (a task it starts) sees the claim closed and writes plainly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, TypeVar

from core.errors import AlreadyHandled

if TYPE_CHECKING:
    from core.store.db import Database, Tx, Unit

T = TypeVar("T")


class State(Enum):
    OPEN = "open"  # no unit of the command has committed the key yet
    HELD = "held"  # a unit of this command committed it
    SEEN = "seen"  # claimed before: a redelivery
    CLOSED = "closed"  # the command is over


@dataclass(slots=True, eq=False)
class Claim:
    key: str
    at: datetime
    state: State = State.OPEN
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_current: ContextVar[Claim | None] = ContextVar("sessionbot_inbound_claim", default=None)


@contextmanager
def claiming(key: str, at: datetime) -> Iterator[Claim]:
    """Carry the claim of `key` in the first unit the code inside commits."""
    claim = Claim(key, at)
    token = _current.set(claim)
    try:
        yield claim
    finally:
        _current.reset(token)
        if claim.state is State.OPEN:
            claim.state = State.CLOSED  # not carried by a late write: `settle` decides


async def claim_key(tx: Tx, key: str, at: datetime) -> bool:
    """Claim `key` in `tx`; False when it was claimed before."""
    claimed = await tx.execute(
        "INSERT INTO inbound_dedupe (key, seen_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        (key, at),
    )
    return claimed == 1


def pending() -> Claim | None:
    """The claim a write of this context still has to carry (None: write plainly)."""
    claim = _current.get()
    return claim if claim is not None and claim.state in (State.OPEN, State.SEEN) else None


async def carry(claim: Claim, unit: Unit[T], commit: Callable[[Unit[T]], Awaitable[T]]) -> T:
    """Commit `unit` with `commit`, carrying `claim` unless a concurrent write carried it."""
    async with claim.lock:
        if claim.state is State.SEEN:
            raise AlreadyHandled()
        if claim.state is not State.OPEN:  # a concurrent write of the command carried it
            return await commit(unit)

        async def claimed(tx: Tx) -> T:
            if not await claim_key(tx, claim.key, claim.at):
                raise AlreadyHandled()
            return await unit(tx)

        try:
            result = await commit(claimed)
        except AlreadyHandled:
            claim.state = State.SEEN
            raise
        claim.state = State.HELD
        return result


async def settle(claim: Claim, inbound: Inbound) -> bool:
    """After the command: whether it is the first delivery of its key, claiming the key in its
    own statement when no unit of the command carried it."""
    if claim.state is State.CLOSED:
        claim.state = State.HELD if await inbound.claim(claim.key, claim.at) else State.SEEN
    return claim.state is State.HELD


class Inbound:
    """Delivery keys of inbound chat events already handled (a platform redelivers)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, key: str, now: datetime) -> bool:
        """True the first time a delivery key is seen; False for a redelivery."""
        return await self.db.write(lambda tx: claim_key(tx, key, now))

    async def purge(self, before: datetime) -> int:
        return await self.db.execute("DELETE FROM inbound_dedupe WHERE seen_at < ?", (before,))
