"""Units: the ops of one change — status fields, its audit event, its notices, its webhooks.

A use case decides *what* changes; this builder turns that into the rows one unit of work
writes, so each rule (which columns a status sets, how an event or a notice is keyed, which
webhooks fire) is written once. Nothing here reads a session or applies a unit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from core import cards, notices
from core.activity import coalescing_window
from core.clock import Clock
from core.errors import Conflict
from core.jobs.webhooks import Hooks, WebhookRouter
from core.models import OPEN_STATUSES, Actor, Event, EventType, Plan, Session, Status, new_id
from core.settings import Settings
from core.store import ops

T = TypeVar("T")
CONFLICT_RETRIES = 8


@dataclass(slots=True)
class Units:
    clock: Clock
    settings: Settings
    webhooks: WebhookRouter
    touch_every: timedelta

    def event(
        self, session: Session, kind: EventType, actor: Actor, data: dict[str, Any] | None = None
    ) -> ops.AddEvent:
        """The audit event of a change (its seq is allocated when the unit commits)."""
        return ops.AddEvent(
            Event(
                new_id(),
                session.id,
                0,
                kind,
                actor.user_id,
                actor.source,
                data or {},
                self.clock.now(),
            )
        )

    async def hooks(
        self,
        session: Session,
        kind: str,
        data: Mapping[str, Any],
        now: datetime,
        *,
        key: str,
        modification_id: str | None = None,
    ) -> list[ops.Op]:
        """One webhook row per subscription of the workspace that wants `kind`."""
        return await self.webhooks.ops_for(
            session, kind, data, now, key=key, modification_id=modification_id
        )

    async def wanted(self, workspace: str, kind: str) -> bool:
        """Whether any webhook of `workspace` wants `kind` (cached; nothing to build if not)."""
        return any(w.wants(kind) for w in await self.webhooks.subscriptions(workspace))

    async def status_fields(
        self, session: Session, status: Status, now: datetime
    ) -> dict[str, Any]:
        """The columns a move to `status` sets: activity, deadline, end time and outcome."""
        fields: dict[str, Any] = {"status": status, "updated_at": now, "last_activity_at": now}
        if status in OPEN_STATUSES:
            deadline = now + (await self.settings.get(session.workspace)).abandon_after
            if session.abandon_at and session.status in OPEN_STATUSES:
                deadline = max(deadline, session.abandon_at)
            fields["abandon_at"] = deadline
            if session.status not in OPEN_STATUSES:
                fields.update(ended_at=None, outcome=None)
        elif status is not Status.ARCHIVED:
            fields.update(abandon_at=None, ended_at=now, outcome=status.value)
        return fields

    async def touch_window(self, workspace: str) -> timedelta:
        """How long activity on a session of `workspace` may go unwritten (coalescing)."""
        abandon_after = (await self.settings.get(workspace)).abandon_after
        return coalescing_window(self.touch_every, abandon_after)

    async def touch(self, session: Session, now: datetime) -> ops.Touch:
        """Activity on `session`: its time, and a later abandonment deadline while open."""
        deadline = None
        if session.status in OPEN_STATUSES:
            deadline = now + (await self.settings.get(session.workspace)).abandon_after
        return ops.Touch(session.id, now, deadline)

    async def change(
        self,
        actor: Actor,
        session: Session,
        status: Status,
        event: EventType,
        *,
        changes: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        extra: list[ops.Op] | None = None,
        due_by: datetime | None = None,
    ) -> tuple[Session, list[ops.Op]]:
        """A status change as one unit: compare-and-set, its event, notice and webhooks."""
        now = self.clock.now()
        fields = await self.status_fields(session, status, now)
        fields.update(changes or {})
        updated = dataclasses.replace(session, **fields, version=session.version + 1)
        add_event = self.event(session, event, actor, data)
        key = f"event:{add_event.event.id}"
        notice = cards.notice(updated, event, actor.user_id, **(data or {}))
        return updated, [
            ops.UpdateSession(
                session.id, session.version, fields, session.status.value, due_by=due_by
            ),
            *(extra or []),
            add_event,
            notices.to_thread(updated, notice, key=key, now=now),
            *await self.hooks(updated, event.value, data or {}, now, key=key),
        ]

    async def plan_posted(
        self, actor: Actor, session: Session, plan: Plan, now: datetime
    ) -> list[ops.Op]:
        """A new plan: its rows, its event, its message with buttons and a pointer in the thread."""
        hooks = await self.webhooks.hooks_for(session.workspace, EventType.PLAN_SUBMITTED.value)
        return self.plan_ops(actor, session, plan, now, hooks)

    def plan_ops(
        self, actor: Actor, session: Session, plan: Plan, now: datetime, hooks: Hooks
    ) -> list[ops.Op]:
        """`plan_posted` with the webhooks that want `plan_submitted` read beforehand."""
        data = {"plan_id": plan.id, "plan": plan.version, "items": [i.title for i in plan.items]}
        submitted = self.event(session, EventType.PLAN_SUBMITTED, actor, data)
        return [
            ops.NewPlan(plan),
            submitted,
            notices.plan_post(session, plan, cards.plan_message(session, plan), now=now),
            notices.to_thread(
                session, cards.plan_pointer(session, plan), key=f"pointer:{plan.id}", now=now
            ),
            *hooks.ops(session, data, now, key=f"event:{submitted.event.id}"),
        ]


async def retried(attempt: Callable[[], Awaitable[T]]) -> T:
    """Re-run an optimistic unit after a lost compare-and-set (it re-reads every time); a
    Conflict that names who decided is final."""
    for _ in range(CONFLICT_RETRIES - 1):
        try:
            return await attempt()
        except Conflict as exc:
            if exc.decided_by is not None:
                raise
    return await attempt()
