"""The session lifecycle (SPEC §2): start, look up, list, and every status change."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core import cards, notices, plans
from core.access import Access
from core.clock import Clock
from core.commands import COMMANDS
from core.errors import Conflict, NotFound, UsageError
from core.models import (
    DONE_STATUSES,
    MAX_MODE,
    MODE_PATTERN,
    OPEN_STATUSES,
    Actor,
    ChatRef,
    EventType,
    Member,
    Plan,
    Role,
    Session,
    Source,
    Status,
    new_id,
)
from core.permissions import Perm
from core.services.config import ServiceConfig
from core.settings import Settings
from core.states import Action
from core.store import ops
from core.store.store import Store
from core.units import Units
from core.users import check_user_id
from core.views import mention

_log = logging.getLogger(__name__)

LIST_FILTERS: dict[str, tuple[Status, ...] | None] = {
    "open": (Status.ACTIVE, Status.PAUSED, Status.PENDING),
    "active": (Status.ACTIVE,),
    "paused": (Status.PAUSED,),
    "pending": (Status.PENDING,),
    "done": tuple(sorted(DONE_STATUSES)),
    "abandoned": (Status.ABANDONED,),
    "archived": (Status.ARCHIVED,),
    "all": None,
}
PAGE_SIZE = 10
MAX_TITLE = 200
MAX_REASON = 2000
SYSTEM_USER = "sessionbot"


@dataclass(slots=True)
class SessionDetail:
    session: Session
    members: list[Member]
    plan: Plan | None
    lineage: list[Session]


@dataclass(slots=True)
class SessionListing:
    sessions: list[Session]
    total: int
    page: int
    pages: int
    heading: str


def clip(text: str | None) -> str:
    """A reason, summary or comment as stored: trimmed and at most MAX_REASON characters."""
    return (text or "").strip()[:MAX_REASON]


def checked_title(title: str) -> str:
    """A session's title as stored: trimmed, present and at most MAX_TITLE characters."""
    title = title.strip()
    if not title:
        raise UsageError("A session needs a title.", usage="/session start <title…>")
    if len(title) > MAX_TITLE:
        raise UsageError(f"The title is too long (at most {MAX_TITLE} characters).")
    return title


def checked_mode(mode: str | None) -> str | None:
    """A session's mode: one word of at most MAX_MODE characters (None: the default)."""
    if mode is not None and not re.fullmatch(MODE_PATTERN, mode):
        raise UsageError(
            f"A mode is one word of at most {MAX_MODE} characters (deploy, incident…).",
            usage="/session start <title…> [mode:<mode>]",
        )
    return mode


def _missing(ref: str) -> NotFound:
    return NotFound("session", f"#{ref}" if ref.isdigit() else ref)


def system_actor(workspace: str) -> Actor:
    """Who the scheduler acts as (an admin: its verdicts need no role)."""
    return Actor(workspace, SYSTEM_USER, Source.SCHEDULER, platform_admin=True)


@dataclass(slots=True)
class Lifecycle:
    store: Store
    clock: Clock
    config: ServiceConfig
    settings: Settings
    access: Access
    units: Units

    async def find(
        self, actor: Actor, ref: str | None, *, channel_id: str | None = None
    ) -> Session:
        """The session `ref` names in the actor's workspace, or their active one in the channel."""
        if ref is None:
            found = None
            if channel_id is not None:
                found = await self.store.sessions.active(actor.workspace, channel_id, actor.user_id)
            if found is None:
                raise NotFound("active session", "of yours in this channel (give a ref, e.g. #3)")
            return found
        session = await self.store.sessions.get(actor.workspace, ref.lstrip("#").lower())
        if session is None:
            raise _missing(ref)
        return session

    async def find_for(
        self, actor: Actor, ref: str | None, perm: Perm, *, channel_id: str | None = None
    ) -> Session:
        """The session, once the actor is known to hold `perm` on it."""
        session = await self.find(actor, ref, channel_id=channel_id)
        await self.access.require(actor, session, perm)
        return session

    async def touch(self, actor: Actor, session: Session) -> None:
        """Record activity on a session (coalesced, see core/activity.py)."""
        now = self.clock.now()
        if now - session.last_activity_at < await self.units.touch_window(session.workspace):
            return
        await self.store.apply([await self.units.touch(session, now)])

    async def transition(
        self,
        actor: Actor,
        session: Session,
        action: Action,
        event: EventType,
        *,
        changes: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        extra: list[ops.Op] | None = None,
        due_by: datetime | None = None,
    ) -> Session:
        """One status transition: compare-and-set, its event and its notification, atomically."""
        status = await self.access.next_status(actor, session, action)
        updated, unit = await self.units.change(
            actor, session, status, event, changes=changes, data=data, extra=extra, due_by=due_by
        )
        await self.applied(session, unit)
        return updated

    async def applied(self, session: Session, unit: list[ops.Op]) -> None:
        """Apply a unit guarded by `session`'s version; a lost race says what the session is now."""
        try:
            await self.store.apply(unit)
        except Conflict:
            raise await self.lost_race(session) from None

    async def lost_race(self, session: Session) -> Conflict:
        """What a change guarded by `session`'s version tells when another change came first."""
        fresh = await self.store.sessions.by_id(session.id)
        now_status = fresh.status.value if fresh else "deleted"
        return Conflict(
            f"Session #{session.ref} changed at the same moment (it is now {now_status}); "
            "look again and retry."
        )

    async def start(
        self,
        actor: Actor,
        chat: ChatRef,
        title: str,
        *,
        mode: str | None = None,
        max_iterations: int | None = None,
        plan_items: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        thread_ref: str | None = None,
    ) -> Session:
        """Create a session (born `pending` when it comes with a plan); with a `thread_ref` it
        joins that existing thread (its card and notices go there) instead of opening one."""
        title = checked_title(title)
        mode = checked_mode(mode)
        now = self.clock.now()
        settings = await self.settings.get(actor.workspace)
        session = Session(
            id=new_id(),
            ref=0,
            workspace=actor.workspace,
            channel_id=chat.channel_id,
            owner_id=actor.user_id,
            title=title,
            mode=mode or self.config.default_mode,
            status=Status.PENDING if plan_items else Status.ACTIVE,
            created_at=now,
            updated_at=now,
            last_activity_at=now,
            abandon_at=now + settings.abandon_after,
            metadata=metadata or {},
            max_iterations=max_iterations or self.config.max_iterations,
            thread_ref=thread_ref,
        )
        owner = Member(actor.user_id, Role.OWNER, actor.user_id, now)
        created = self.units.event(session, EventType.CREATED, actor, {"title": session.title})
        webhooks = self.units.webhooks  # read before the unit, which runs where it cannot read
        hooks = await webhooks.hooks_for(actor.workspace, EventType.CREATED.value)
        planned = None
        if plan_items:
            plan = plans.build_plan(
                session_id=session.id,
                version=1,
                titles=plan_items,
                submitted_by=actor.user_id,
                now=now,
                required=1,
                expires_after=settings.approval_expires_after,
            )
            wanting = await webhooks.hooks_for(actor.workspace, EventType.PLAN_SUBMITTED.value)
            planned = (plan, wanting)

        def unit_for(ref: int) -> list[ops.Op]:  # what shows the ref is made once it is known
            session.ref = ref
            unit: list[ops.Op] = [
                ops.NewSession(session, (owner,)),
                created,
                notices.card(session, cards.session_card(session, [], None, now=now), now=now),
                *hooks.ops(session, {"title": title}, now, key=f"event:{created.event.id}"),
            ]
            if planned is not None:
                unit += self.units.plan_ops(actor, session, planned[0], now, planned[1])
            return unit

        await self.store.new_session(actor.workspace, unit_for)
        return session

    async def show(
        self, actor: Actor, ref: str | None, *, channel_id: str | None = None
    ) -> SessionDetail:
        if ref is None:  # their active session in the channel
            ref = (await self.find(actor, None, channel_id=channel_id)).id
        found = await self.store.plans.shown(actor.workspace, ref.lstrip("#").lower())
        if found is None:
            raise _missing(ref)
        session, members, plan = found
        await self.touch(actor, session)
        lineage: list[Session] = []
        parent_id = session.parent_id
        while parent_id and len(lineage) < 5:
            parent = await self.store.sessions.by_id(parent_id)
            if parent is None or parent.workspace != actor.workspace:
                break
            lineage.append(parent)
            parent_id = parent.parent_id
        return SessionDetail(session, members, plan, lineage)

    async def list_sessions(
        self,
        actor: Actor,
        *,
        filter: str = "open",
        owner: str | None = None,
        mode: str | None = None,
        page: int = 1,
        page_size: int = PAGE_SIZE,
    ) -> SessionListing:
        if filter not in LIST_FILTERS:
            raise UsageError(f"Unknown filter `{filter}`.", usage=COMMANDS["list"].usage)
        owner_id = actor.user_id if owner == "mine" else owner
        if owner_id is not None and owner_id != actor.user_id:
            check_user_id(actor.workspace, owner_id)
        found = await self.store.sessions.page(
            actor.workspace,
            statuses=LIST_FILTERS[filter],
            owner_id=owner_id,
            mode=mode,
            limit=page_size,
            offset=(page - 1) * page_size,
        )
        pages = max(1, -(-found.total // page_size))
        heading = "Open sessions" if filter == "open" else f"Sessions: {filter}"
        if owner_id:
            heading += f" of {mention(owner_id)}"
        return SessionListing(found.sessions, found.total, page, pages, heading)

    async def pause(
        self,
        actor: Actor,
        ref: str | None,
        *,
        channel_id: str | None = None,
        reason: str | None = None,
    ) -> Session:
        return await self._simple(actor, ref, channel_id, Action.PAUSE, EventType.PAUSED, reason)

    async def resume(
        self, actor: Actor, ref: str | None, *, channel_id: str | None = None
    ) -> Session:
        return await self._simple(actor, ref, channel_id, Action.RESUME, EventType.RESUMED, None)

    async def complete(
        self,
        actor: Actor,
        ref: str | None,
        *,
        channel_id: str | None = None,
        summary: str | None = None,
    ) -> Session:
        changes = {"result": clip(summary)} if summary else None
        return await self._simple(
            actor, ref, channel_id, Action.COMPLETE, EventType.COMPLETED, None, changes
        )

    async def fail(
        self, actor: Actor, ref: str | None, *, reason: str, channel_id: str | None = None
    ) -> Session:
        if not reason.strip():
            raise UsageError("Say why it failed.", usage=COMMANDS["fail"].usage)
        changes = {"error": clip(reason)}
        return await self._simple(
            actor, ref, channel_id, Action.FAIL, EventType.FAILED, reason, changes
        )

    async def cancel(
        self,
        actor: Actor,
        ref: str | None,
        *,
        channel_id: str | None = None,
        reason: str | None = None,
    ) -> Session:
        return await self._simple(
            actor, ref, channel_id, Action.CANCEL, EventType.CANCELLED, reason
        )

    async def archive(
        self, actor: Actor, ref: str | None, *, channel_id: str | None = None
    ) -> Session:
        session = await self.find_for(actor, ref, Perm.MANAGE, channel_id=channel_id)
        return await self.transition(actor, session, Action.ARCHIVE, EventType.ARCHIVED)

    async def delete(self, actor: Actor, ref: str) -> Session:
        """Delete a session with all its rows (owner or admin); a concurrent change wins."""
        session = await self.find_for(actor, ref, Perm.MANAGE)
        if not await self.store.sessions.delete(session.id, version=session.version):
            raise await self.lost_race(session)
        _log.info("session %s (#%s) deleted by %s", session.id, session.ref, actor.user_id)
        return session

    async def _simple(
        self,
        actor: Actor,
        ref: str | None,
        channel_id: str | None,
        action: Action,
        event: EventType,
        reason: str | None,
        changes: dict[str, Any] | None = None,
    ) -> Session:
        session = await self.find_for(actor, ref, Perm.WORK, channel_id=channel_id)
        data = {"reason": clip(reason)} if reason else None
        return await self.transition(actor, session, action, event, changes=changes, data=data)

    async def extend(
        self, actor: Actor, ref: str | None, duration: timedelta, *, channel_id: str | None = None
    ) -> Session:
        """Push the abandon deadline by `duration`; a timed-out session reopens with more room."""
        session = await self.find_for(actor, ref, Perm.WORK, channel_id=channel_id)
        now = self.clock.now()
        base = now + (await self.settings.get(session.workspace)).abandon_after
        if session.status in OPEN_STATUSES and session.abandon_at:
            base = max(base, session.abandon_at)
        changes: dict[str, Any] = {"abandon_at": base + duration}
        if session.status is Status.TIMED_OUT:
            changes["max_iterations"] = session.max_iterations + max(
                10, session.max_iterations // 2
            )
        data = {"by_seconds": int(duration.total_seconds())}
        return await self.transition(
            actor, session, Action.EXTEND, EventType.EXTENDED, changes=changes, data=data
        )

    async def abandon(self, session_id: str) -> Session:
        """The sweep's verdict on an idle session."""
        session = await self.store.sessions.by_id(session_id)
        if session is None:
            raise NotFound("session", session_id)
        actor = system_actor(session.workspace)
        return await self.transition(
            actor, session, Action.ABANDON, EventType.ABANDONED, due_by=self.clock.now()
        )
