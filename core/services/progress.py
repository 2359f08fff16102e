"""Progress reported by agents (SPEC §2): iterations, tool calls, learnings, errors, heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from core.access import Access
from core.clock import Clock
from core.errors import UsageError
from core.models import Actor, Event, EventType, Session, new_id
from core.permissions import Perm
from core.services.sessions import Lifecycle
from core.settings import Settings
from core.states import Action
from core.store import ops
from core.store.store import Store
from core.units import Units, retried
from core.waiters import Waiters

RECORDABLE = frozenset({EventType.TOOL_CALL, EventType.LEARNING, EventType.ERROR})


@dataclass(slots=True)
class Progress:
    store: Store
    clock: Clock
    settings: Settings
    access: Access
    units: Units
    sessions: Lifecycle
    followers: Waiters = field(default_factory=Waiters)  # by session id, woken at commit

    async def record_iteration(
        self, actor: Actor, ref: str | None, *, count: int = 1, data: dict[str, Any] | None = None
    ) -> Session:
        """Count iterations; reaching max_iterations times the session out automatically."""
        if not 1 <= count <= 1000:
            raise UsageError("An iteration report counts 1 to 1000 iterations.")

        async def attempt() -> Session:
            session = await self.sessions.find_for(actor, ref, Perm.WORK)
            await self.access.next_status(actor, session, Action.ITERATE)
            total = session.iterations + count
            iteration = self.units.event(
                session, EventType.ITERATION, actor, {"n": total, **(data or {})}
            )
            if total >= session.max_iterations:
                return await self.sessions.transition(
                    actor,
                    session,
                    Action.TIME_OUT,
                    EventType.TIMED_OUT,
                    changes={"iterations": total},
                    extra=[iteration],
                )
            now = self.clock.now()
            fields = await self.units.status_fields(session, session.status, now)
            fields["iterations"] = total
            hooks = await self.units.hooks(
                session,
                EventType.ITERATION.value,
                iteration.event.data,
                now,
                key=f"event:{iteration.event.id}",
            )
            await self.store.apply(
                [
                    ops.UpdateSession(session.id, session.version, fields, session.status.value),
                    iteration,
                    *hooks,
                ]
            )
            return dataclasses.replace(session, **fields, version=session.version + 1)

        return await retried(attempt)

    async def record_event(
        self, actor: Actor, ref: str | None, kind: EventType, data: dict[str, Any]
    ) -> int:
        """Append a tool-call, learning or error event in one round trip; returns its seq."""
        if kind not in RECORDABLE:
            raise UsageError(f"Only {', '.join(sorted(RECORDABLE))} events can be recorded.")
        if ref is None:
            raise UsageError("Say which session: give its ref or id.")
        settings = await self.settings.get(actor.workspace)
        event = Event(new_id(), "", 0, kind, actor.user_id, actor.source, data, self.clock.now())
        op = ops.CheckedEvent(
            actor.workspace,
            ref.lstrip("#").lower(),
            event,
            await self.access.checker(actor, Action.RECORD),
            touch_after=await self.units.touch_window(actor.workspace),
            abandon_after=settings.abandon_after,
        )
        hooks = await self._hooks(actor, ref, kind.value, data, event.id)
        (seq, *_) = await self.store.apply([op, *hooks])
        return int(seq)

    async def _hooks(
        self, actor: Actor, ref: str, kind: str, data: dict[str, Any], event_id: str
    ) -> list[ops.Op]:
        """Webhook rows for an agent's progress event; nothing to read when nobody subscribed."""
        if not await self.units.wanted(actor.workspace, kind):
            return []
        session = await self.sessions.find(actor, ref)
        return await self.units.hooks(
            session, kind, data, self.clock.now(), key=f"event:{event_id}"
        )

    async def heartbeat(self, actor: Actor, ref: str | None) -> Session:
        session = await self.sessions.find_for(actor, ref, Perm.WORK)
        await self.sessions.touch(actor, session)
        return session

    async def follow(self, actor: Actor, ref: str | None) -> Session:
        """The session whose events `actor` may follow (as `events` may read them)."""
        return await self.sessions.find(actor, ref)

    async def next_events(
        self, session: Session, *, after_seq: int, up_to: float, limit: int
    ) -> list[Event]:
        """The oldest `limit` events newer than `after_seq`; when there are none yet, waits up
        to `up_to` seconds for the commit that adds some (woken by that commit, here or on
        another replica, never by a loop over the database); empty when none came."""
        with self.followers.watch(session.id) as added:
            found = await self.store.events.after(session.id, after_seq=after_seq, limit=limit)
            if found or up_to <= 0:
                return found
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(up_to):
                    await added.wait()
        return await self.store.events.after(session.id, after_seq=after_seq, limit=limit)

    async def events(
        self, actor: Actor, ref: str | None, *, limit: int = 20, before_seq: int | None = None
    ) -> tuple[Session, list[Event]]:
        session = await self.sessions.find(actor, ref)
        return session, await self.store.events.newest(
            session.id, limit=limit, before_seq=before_seq
        )
