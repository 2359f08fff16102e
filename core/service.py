"""SessionService: every use case of §2–§4; each call is one atomic unit of work."""

from __future__ import annotations

import dataclasses
import logging
import re
import statistics
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from core import cards, notices, plans
from core.activity import coalescing_window
from core.clock import Clock, SystemClock
from core.commands import COMMANDS
from core.errors import Conflict, Forbidden, InvalidTransition, NotFound, UsageError
from core.jobs.webhook_policy import WebhookPolicy
from core.jobs.webhooks import WebhookRouter
from core.models import (
    DONE_STATUSES,
    MAX_MODE,
    MODE_PATTERN,
    OPEN_STATUSES,
    Actor,
    Approval,
    ChatRef,
    Decision,
    Event,
    EventType,
    ItemStatus,
    Member,
    ModAction,
    Plan,
    PlanModification,
    PlanStatus,
    Role,
    Session,
    Source,
    Status,
    WorkspaceSettings,
    new_id,
)
from core.permissions import (
    PERM_OF,
    Perm,
    allows,
    is_admin,
    possible_deciders,
    require,
    require_decider,
    roles_of,
)
from core.records.jobs import JobRun
from core.settings import effective_settings, parse_setting
from core.states import Action, allowed_from, next_status
from core.store import ops
from core.store.store import Store
from core.users import check_user_id
from core.views import mention
from core.waiting import waiting_total

_log = logging.getLogger(__name__)

T = TypeVar("T")

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
CONFLICT_RETRIES = 8
SYSTEM_USER = "sessionbot"
SETTINGS_CACHE = timedelta(seconds=5)
RECORDABLE = frozenset({EventType.TOOL_CALL, EventType.LEARNING, EventType.ERROR})


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Defaults from configuration; workspaces override the settings part."""

    defaults: WorkspaceSettings = field(default_factory=WorkspaceSettings)
    admins: frozenset[str] = frozenset()
    max_iterations: int = 100
    default_mode: str = "developer"
    touch_every: timedelta = timedelta(seconds=30)
    webhook_policy: WebhookPolicy = field(default_factory=WebhookPolicy)


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


@dataclass(slots=True)
class DecisionResult:
    session: Session
    plan: Plan
    settled: bool
    approvals: int
    repeated: bool = False


@dataclass(slots=True)
class Stats:
    days: int
    by_status: dict[str, int]
    by_mode: dict[str, int]
    average_iterations: float
    success_rate: float | None
    median_duration: timedelta | None
    median_approval_latency: timedelta | None
    outbox_pending: int
    outbox_dead: int
    jobs: list[JobRun] = field(default_factory=list)
    outbox_waiting: int = 0  # pending for a platform this process has no adapter for


class SessionService:
    """The one entry point for every adapter, the API and the scheduler."""

    def __init__(
        self, store: Store, *, clock: Clock | None = None, config: ServiceConfig | None = None
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.config = config or ServiceConfig()
        self._settings: dict[str, tuple[datetime, WorkspaceSettings]] = {}  # until, value
        self.webhooks = WebhookRouter(store.webhooks, clock=self.clock)
        # The platforms this process delivers to (set by the bot once its adapters are known).
        self.delivered_platforms: Callable[[], Collection[str]] | None = None

    # -- lookups and access ------------------------------------------------------------------

    async def settings(self, workspace: str) -> WorkspaceSettings:
        """Effective settings, cached for a few seconds (changes here apply at once)."""
        now = self.clock.now()
        cached = self._settings.get(workspace)
        if cached is not None and now < cached[0]:
            return cached[1]
        stored = await self.store.workspaces.settings(workspace)
        settings = effective_settings(self.config.defaults, stored)
        self._settings[workspace] = (now + SETTINGS_CACHE, settings)
        return settings

    async def stored_settings(self, workspace: str) -> dict[str, Any]:
        return await self.store.workspaces.settings(workspace)

    async def set_setting(self, actor: Actor, key: str, text: str) -> WorkspaceSettings:
        """An admin changes one workspace setting (validated; takes effect immediately)."""
        await self.require_admin(actor)
        value = parse_setting(key, text, workspace=actor.workspace)
        stored = await self.store.workspaces.settings(actor.workspace)
        stored[key] = value
        await self.store.apply([ops.PutSettings(actor.workspace, stored)])
        self._settings.pop(actor.workspace, None)
        return await self.settings(actor.workspace)

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
            raise NotFound("session", f"#{ref}" if ref.isdigit() else ref)
        return session

    async def _is_admin(self, actor: Actor) -> bool:
        if actor.platform_admin or actor.user_id in self.config.admins:
            return True
        return is_admin(actor, await self.settings(actor.workspace), self.config.admins)

    async def _access(self, actor: Actor, session: Session) -> tuple[bool, set[Role]]:
        if session.owner_id == actor.user_id:
            return await self._is_admin(actor), {Role.OWNER}
        members = {m.user_id: m.role for m in await self.store.sessions.members(session.id)}
        return await self._is_admin(actor), roles_of(actor.user_id, session, members)

    async def require_permission(self, actor: Actor, session: Session, perm: Perm) -> None:
        """Raise Forbidden unless `actor` holds `perm` on `session` (reading is everyone's)."""
        if perm is Perm.READ:
            return
        if session.owner_id == actor.user_id and perm is not Perm.ADMIN:
            return
        admin, roles = await self._access(actor, session)
        require(perm, admin=admin, roles=roles)

    async def require_admin(self, actor: Actor, *, action: str = Perm.ADMIN.value) -> None:
        """Refuse `action` (worded for the refusal) unless the actor is a workspace admin."""
        if not await self._is_admin(actor):
            raise Forbidden(action, ["workspace admin"])

    async def _next_status(self, actor: Actor, session: Session, action: Action) -> Status:
        """The status after `action`; a refusal offers only the commands this actor may run."""
        try:
            return next_status(session.status, action, ref=session.ref)
        except InvalidTransition as exc:
            admin, roles = await self._access(actor, session)

            def may(other: Action) -> bool:
                return allows(PERM_OF.get(other, Perm.WORK), admin=admin, roles=roles)

            raise InvalidTransition(
                ref=session.ref,
                action=exc.action,
                status=exc.status,
                allowed=allowed_from(session.status, may),
                final=not exc.allowed,
            ) from None

    async def _retry(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Re-run an optimistic unit after a lost compare-and-set (it re-reads every time)."""
        for _ in range(CONFLICT_RETRIES - 1):
            try:
                return await attempt()
            except Conflict as exc:
                if exc.decided_by is not None:
                    raise
        return await attempt()

    # -- building blocks ---------------------------------------------------------------------

    def _event(
        self, session: Session, kind: EventType, actor: Actor, data: dict[str, Any] | None = None
    ) -> ops.AddEvent:
        return ops.AddEvent(
            Event(
                id=new_id(),
                session_id=session.id,
                seq=0,
                type=kind,
                actor_id=actor.user_id,
                source=actor.source,
                data=data or {},
                created_at=self.clock.now(),
            )
        )

    async def _status_fields(
        self, session: Session, status: Status, now: datetime
    ) -> dict[str, Any]:
        """The columns a move to `status` sets: activity, deadline, end time and outcome."""
        fields: dict[str, Any] = {"status": status, "updated_at": now, "last_activity_at": now}
        if status in OPEN_STATUSES:
            settings = await self.settings(session.workspace)
            deadline = now + settings.abandon_after
            if session.abandon_at and session.status in OPEN_STATUSES:
                deadline = max(deadline, session.abandon_at)
            fields["abandon_at"] = deadline
            if session.status not in OPEN_STATUSES:
                fields.update(ended_at=None, outcome=None)
        elif status is not Status.ARCHIVED:
            fields.update(abandon_at=None, ended_at=now, outcome=status.value)
        return fields

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
        now = self.clock.now()
        status = await self._next_status(actor, session, action)
        fields = await self._status_fields(session, status, now)
        fields.update(changes or {})
        updated = dataclasses.replace(session, **fields, version=session.version + 1)
        add_event = self._event(session, event, actor, data)
        notice = cards.notice(updated, event, actor.user_id, **(data or {}))
        unit: list[ops.Op] = [
            ops.UpdateSession(
                session.id, session.version, fields, session.status.value, due_by=due_by
            ),
            *(extra or []),
            add_event,
            notices.to_thread(updated, notice, key=f"event:{add_event.event.id}", now=now),
            *await self.webhooks.ops_for(
                updated, event.value, data or {}, now, key=f"event:{add_event.event.id}"
            ),
        ]
        try:
            await self.store.apply(unit)
        except Conflict:
            raise await self._lost_race(session) from None
        return updated

    async def _lost_race(self, session: Session) -> Conflict:
        fresh = await self.store.sessions.by_id(session.id)
        now_status = fresh.status.value if fresh else "deleted"
        return Conflict(
            f"Session #{session.ref} changed at the same moment (it is now {now_status}); "
            "look again and retry."
        )

    async def touch(self, actor: Actor, session: Session) -> None:
        """Record activity on a session (coalesced, see core/activity.py)."""
        now = self.clock.now()
        if now - session.last_activity_at < await self.touch_window(session.workspace):
            return
        await self.store.apply([await self._touch_op(session, now)])

    async def touch_window(self, workspace: str) -> timedelta:
        """How long activity on a session of `workspace` may go unwritten (coalescing)."""
        abandon_after = (await self.settings(workspace)).abandon_after
        return coalescing_window(self.config.touch_every, abandon_after)

    async def _touch_op(self, session: Session, now: datetime) -> ops.Touch:
        deadline = None
        if session.status in OPEN_STATUSES:
            deadline = now + (await self.settings(session.workspace)).abandon_after
        return ops.Touch(session.id, now, deadline)

    # -- lifecycle ---------------------------------------------------------------------------

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
    ) -> Session:
        """Create a session (born `pending` when it comes with a plan)."""
        title = title.strip()
        if not title:
            raise UsageError("A session needs a title.", usage="/session start <title…>")
        if len(title) > MAX_TITLE:
            raise UsageError(f"The title is too long (at most {MAX_TITLE} characters).")
        if mode is not None and not re.fullmatch(MODE_PATTERN, mode):
            raise UsageError(
                f"A mode is one word of at most {MAX_MODE} characters (deploy, incident…).",
                usage="/session start <title…> [mode:<mode>]",
            )
        now = self.clock.now()
        settings = await self.settings(actor.workspace)
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
        )
        (session.ref,) = await self.store.apply([ops.AllocateRef(actor.workspace)])
        owner = Member(actor.user_id, Role.OWNER, actor.user_id, now)
        created = self._event(session, EventType.CREATED, actor, {"title": session.title})
        card_view = cards.session_card(session, [], None, now=now)
        unit: list[ops.Op] = [
            ops.NewSession(session, (owner,)),
            created,
            notices.card(session, card_view, now=now),
            *await self.webhooks.ops_for(
                session,
                EventType.CREATED.value,
                {"title": title},
                now,
                key=f"event:{created.event.id}",
            ),
        ]
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
            unit += await self._plan_ops(actor, session, plan, now)
        await self.store.apply(unit)
        return session

    async def show(
        self, actor: Actor, ref: str | None, *, channel_id: str | None = None
    ) -> SessionDetail:
        session = await self.find(actor, ref, channel_id=channel_id)
        await self.touch(actor, session)
        lineage: list[Session] = []
        parent_id = session.parent_id
        while parent_id and len(lineage) < 5:
            parent = await self.store.sessions.by_id(parent_id)
            if parent is None or parent.workspace != actor.workspace:
                break
            lineage.append(parent)
            parent_id = parent.parent_id
        return SessionDetail(
            session,
            await self.store.sessions.members(session.id),
            await self.store.plans.current(session.id),
            lineage,
        )

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
        changes = {"result": _clip(summary)} if summary else None
        return await self._simple(
            actor, ref, channel_id, Action.COMPLETE, EventType.COMPLETED, None, changes
        )

    async def fail(
        self, actor: Actor, ref: str | None, *, reason: str, channel_id: str | None = None
    ) -> Session:
        if not reason.strip():
            raise UsageError("Say why it failed.", usage=COMMANDS["fail"].usage)
        changes = {"error": _clip(reason)}
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
        session = await self.find(actor, ref, channel_id=channel_id)
        await self.require_permission(actor, session, Perm.MANAGE)
        return await self.transition(actor, session, Action.ARCHIVE, EventType.ARCHIVED)

    async def delete(self, actor: Actor, ref: str) -> Session:
        """Delete a session with all its rows (owner or admin); a concurrent change wins."""
        session = await self.find(actor, ref)
        await self.require_permission(actor, session, Perm.MANAGE)
        if not await self.store.sessions.delete(session.id, version=session.version):
            raise await self._lost_race(session)
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
        session = await self.find(actor, ref, channel_id=channel_id)
        await self.require_permission(actor, session, Perm.WORK)
        data = {"reason": _clip(reason)} if reason else None
        return await self.transition(actor, session, action, event, changes=changes, data=data)

    async def extend(
        self, actor: Actor, ref: str | None, duration: timedelta, *, channel_id: str | None = None
    ) -> Session:
        """Push the abandon deadline by `duration`; a timed-out session reopens with more room."""
        session = await self.find(actor, ref, channel_id=channel_id)
        await self.require_permission(actor, session, Perm.WORK)
        now = self.clock.now()
        settings = await self.settings(session.workspace)
        base = now + settings.abandon_after
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

    async def share(
        self,
        actor: Actor,
        ref: str | None,
        user_id: str,
        *,
        role: Role = Role.EDITOR,
        channel_id: str | None = None,
    ) -> Session:
        user_id, session = await self._membership(actor, ref, user_id, channel_id)
        if role is Role.OWNER:
            raise UsageError(
                "A session has one owner; hand it over with `/session transfer [ref] @name`."
            )
        if user_id == session.owner_id:
            raise UsageError(f"{mention(user_id)} already owns session #{session.ref}.")
        member = Member(user_id, role, actor.user_id, self.clock.now())
        data = {"role": role.value, "user_id": user_id}
        return await self.transition(
            actor,
            session,
            Action.SHARE,
            EventType.SHARED,
            data=data,
            extra=[ops.PutMember(session.id, member)],
        )

    async def _membership(
        self, actor: Actor, ref: str | None, user_id: str, channel_id: str | None
    ) -> tuple[str, Session]:
        """The checked user id and the session whose members the owner (or an admin) changes."""
        user_id = check_user_id(actor.workspace, user_id)
        session = await self.find(actor, ref, channel_id=channel_id)
        await self.require_permission(actor, session, Perm.MANAGE)
        return user_id, session

    async def transfer(
        self, actor: Actor, ref: str | None, user_id: str, *, channel_id: str | None = None
    ) -> Session:
        """The owner (or an admin) hands the session over; the old owner stays as an editor."""
        user_id, session = await self._membership(actor, ref, user_id, channel_id)
        if user_id == session.owner_id:
            raise UsageError(f"{mention(user_id)} already owns session #{session.ref}.")
        now = self.clock.now()
        owner = Member(user_id, Role.OWNER, actor.user_id, now)
        previous = Member(session.owner_id, Role.EDITOR, actor.user_id, now)
        return await self.transition(
            actor,
            session,
            Action.SHARE,
            EventType.TRANSFERRED,
            changes={"owner_id": user_id},
            data={"user_id": user_id, "previous_owner": session.owner_id},
            extra=[ops.PutMember(session.id, owner), ops.PutMember(session.id, previous)],
        )

    async def unshare(
        self, actor: Actor, ref: str | None, user_id: str, *, channel_id: str | None = None
    ) -> Session:
        """The owner (or an admin) removes a member; the owner can only be replaced."""
        user_id, session = await self._membership(actor, ref, user_id, channel_id)
        if user_id == session.owner_id:
            raise UsageError(
                f"{mention(user_id)} owns session #{session.ref}; "
                "hand it over first with `/session transfer`."
            )
        roles = {m.user_id: m.role for m in await self.store.sessions.members(session.id)}
        if user_id not in roles:
            raise NotFound("member", f"{mention(user_id)} of session #{session.ref}")
        return await self.transition(
            actor,
            session,
            Action.SHARE,
            EventType.UNSHARED,
            data={"user_id": user_id, "role": roles[user_id].value},
            extra=[ops.RemoveMember(session.id, user_id)],
        )

    # -- progress from agents ----------------------------------------------------------------

    async def record_iteration(
        self, actor: Actor, ref: str | None, *, count: int = 1, data: dict[str, Any] | None = None
    ) -> Session:
        """Count iterations; reaching max_iterations times the session out automatically."""
        if not 1 <= count <= 1000:
            raise UsageError("An iteration report counts 1 to 1000 iterations.")

        async def attempt() -> Session:
            session = await self.find(actor, ref)
            await self.require_permission(actor, session, Perm.WORK)
            await self._next_status(actor, session, Action.ITERATE)
            total = session.iterations + count
            iteration = self._event(
                session, EventType.ITERATION, actor, {"n": total, **(data or {})}
            )
            if total >= session.max_iterations:
                return await self.transition(
                    actor,
                    session,
                    Action.TIME_OUT,
                    EventType.TIMED_OUT,
                    changes={"iterations": total},
                    extra=[iteration],
                )
            now = self.clock.now()
            fields = await self._status_fields(session, session.status, now)
            fields["iterations"] = total
            hooks = await self.webhooks.ops_for(
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

        return await self._retry(attempt)

    async def record_event(
        self, actor: Actor, ref: str | None, kind: EventType, data: dict[str, Any]
    ) -> int:
        """Append a tool-call, learning or error event in one round trip; returns its seq."""
        if kind not in RECORDABLE:
            raise UsageError(f"Only {', '.join(sorted(RECORDABLE))} events can be recorded.")
        if ref is None:
            raise UsageError("Say which session: give its ref or id.")
        settings = await self.settings(actor.workspace)
        admin = is_admin(actor, settings, self.config.admins)

        def check(facts: ops.SessionFacts) -> None:
            next_status(Status(facts.status), Action.RECORD, ref=facts.ref)
            roles = {Role.OWNER} if facts.owner_id == actor.user_id else set()
            if facts.member_role:
                roles.add(Role(facts.member_role))
            require(Perm.WORK, admin=admin, roles=roles)

        event = Event(new_id(), "", 0, kind, actor.user_id, actor.source, data, self.clock.now())
        op = ops.CheckedEvent(
            actor.workspace,
            ref.lstrip("#").lower(),
            event,
            check,
            touch_after=coalescing_window(self.config.touch_every, settings.abandon_after),
            abandon_after=settings.abandon_after,
        )
        hooks = await self._progress_hooks(actor, ref, kind.value, data, event.id)
        (seq, *_) = await self.store.apply([op, *hooks])
        return int(seq)

    async def _progress_hooks(
        self, actor: Actor, ref: str, kind: str, data: dict[str, Any], event_id: str
    ) -> list[ops.Op]:
        """Webhook rows for an agent's progress event; nothing to read when nobody subscribed."""
        subscribed = await self.webhooks.subscriptions(actor.workspace)
        if not any(w.wants(kind) for w in subscribed):
            return []
        session = await self.find(actor, ref)
        return await self.webhooks.ops_for(
            session, kind, data, self.clock.now(), key=f"event:{event_id}"
        )

    async def heartbeat(self, actor: Actor, ref: str | None) -> Session:
        session = await self.find(actor, ref)
        await self.require_permission(actor, session, Perm.WORK)
        await self.touch(actor, session)
        return session

    async def events(
        self, actor: Actor, ref: str | None, *, limit: int = 20, before_seq: int | None = None
    ) -> tuple[Session, list[Event]]:
        session = await self.find(actor, ref)
        return session, await self.store.events.newest(
            session.id, limit=limit, before_seq=before_seq
        )

    # -- plans -------------------------------------------------------------------------------

    async def _plan_ops(
        self, actor: Actor, session: Session, plan: Plan, now: datetime
    ) -> list[ops.Op]:
        data = {"plan_id": plan.id, "plan": plan.version, "items": [i.title for i in plan.items]}
        submitted = self._event(session, EventType.PLAN_SUBMITTED, actor, data)
        return [
            ops.NewPlan(plan),
            submitted,
            notices.plan_post(session, plan, cards.plan_message(session, plan), now=now),
            notices.to_thread(
                session, cards.plan_pointer(session, plan), key=f"pointer:{plan.id}", now=now
            ),
            *await self.webhooks.ops_for(
                session,
                EventType.PLAN_SUBMITTED.value,
                data,
                now,
                key=f"event:{submitted.event.id}",
            ),
        ]

    async def submit_plan(
        self,
        actor: Actor,
        ref: str | None,
        items: list[str],
        *,
        need: int = 1,
        expires: timedelta | None = None,
        channel_id: str | None = None,
    ) -> Plan:
        """Post a new plan version; an older one is superseded and its message says so."""
        session = await self.find(actor, ref, channel_id=channel_id)
        await self.require_permission(actor, session, Perm.WORK)
        status = await self._next_status(actor, session, Action.SUBMIT_PLAN)
        now = self.clock.now()
        settings = await self.settings(session.workspace)
        current = await self.store.plans.current(session.id)
        plan = plans.build_plan(
            session_id=session.id,
            version=current.version + 1 if current else 1,
            titles=items,
            submitted_by=actor.user_id,
            now=now,
            required=need,
            expires_after=expires or settings.approval_expires_after,
        )
        fields = await self._status_fields(session, status, now)
        updated = dataclasses.replace(session, **fields)
        unit: list[ops.Op] = [
            ops.UpdateSession(session.id, session.version, fields, session.status.value),
            *await self._plan_ops(actor, updated, plan, now),
        ]
        if current and current.status is not PlanStatus.SUPERSEDED:
            old = dataclasses.replace(
                current,
                status=PlanStatus.SUPERSEDED,
                superseded_by=actor.user_id,
                superseded_at=now,
            )
            view = cards.plan_message(updated, old)
            unit.append(
                notices.plan_update(updated, old, view, key=f"superseded:{old.id}", now=now)
            )
        try:
            await self.store.apply(unit)
        except Conflict:
            raise await self._lost_race(session) from None
        return plan

    async def _plan_target(
        self, actor: Actor, plan_id: str | None, ref: str | None, channel_id: str | None
    ) -> tuple[Session, Plan]:
        if plan_id is not None:
            return await self._plan_by_id(plan_id, workspace=actor.workspace)
        session = await self.find(actor, ref, channel_id=channel_id)
        plan = await self.store.plans.current(session.id)
        if plan is None:
            raise NotFound("plan", f"for session #{session.ref}")
        return session, plan

    async def decide(
        self,
        actor: Actor,
        decision: Decision,
        *,
        plan_id: str | None = None,
        ref: str | None = None,
        channel_id: str | None = None,
        reason: str | None = None,
    ) -> DecisionResult:
        """Approve or reject the pending plan; exactly one concurrent decision wins."""

        async def attempt() -> DecisionResult:
            session, plan = await self._plan_target(actor, plan_id, ref, channel_id)
            admin, roles = await self._access(actor, session)
            if decision is Decision.APPROVE:
                settings = await self.settings(session.workspace)
                require_decider(
                    admin=admin, roles=roles, user_id=actor.user_id, plan=plan, settings=settings
                )
            else:
                require(Perm.DECIDE, admin=admin, roles=roles)
            outcome = plans.evaluate(plan, actor.user_id, decision)
            if outcome.repeated:
                return DecisionResult(session, plan, False, outcome.approvals, repeated=True)
            return await self._record_decision(actor, session, plan, decision, outcome, reason)

        return await self._retry(attempt)

    async def _record_decision(
        self,
        actor: Actor,
        session: Session,
        plan: Plan,
        decision: Decision,
        outcome: plans.Outcome,
        reason: str | None,
    ) -> DecisionResult:
        now = self.clock.now()
        reason = _clip(reason) if reason else None
        approval = Approval(plan.id, actor.user_id, decision, plan.content_hash, now, reason)
        unit: list[ops.Op] = [ops.PutApproval(approval)]
        decided = dataclasses.replace(plan, approvals=[*plan.approvals, approval])
        if not outcome.settles:
            unit += [
                ops.UpdatePlan(plan.id, plan.row_version, {}, PlanStatus.PENDING.value),
                self._event(session, EventType.PLAN_APPROVAL, actor, {"plan_id": plan.id}),
                notices.plan_update(
                    session,
                    decided,
                    cards.plan_message(session, decided),
                    key=f"approvals:{plan.id}:{outcome.approvals}",
                    now=now,
                ),
            ]
            await self.store.apply(unit)
            return DecisionResult(session, decided, False, outcome.approvals)
        changes: dict[str, Any] = {
            "status": outcome.status,
            "decided_at": now,
            "decided_by": actor.user_id,
            "decision_reason": reason,
        }
        decided = dataclasses.replace(decided, **changes)
        approve = decision is Decision.APPROVE
        unit += [
            ops.UpdatePlan(plan.id, plan.row_version, changes, PlanStatus.PENDING.value),
            notices.plan_update(
                session,
                decided,
                cards.plan_message(session, decided),
                key=f"decided:{plan.id}",
                now=now,
            ),
        ]
        updated = await self.transition(
            actor,
            session,
            Action.APPROVE if approve else Action.REJECT,
            EventType.PLAN_APPROVED if approve else EventType.PLAN_REJECTED,
            data={"plan_id": plan.id, "plan": plan.version, "reason": reason},
            extra=unit,
        )
        return DecisionResult(updated, decided, True, outcome.approvals)

    async def modify(
        self,
        actor: Actor,
        ref: str | None,
        position: int,
        action: ModAction,
        value: str,
        *,
        channel_id: str | None = None,
    ) -> PlanModification:
        """Change a plan item's progress (status, assignee, comment): no new approval needed."""
        if action is ModAction.REASSIGN:
            # `mine` is the actor itself, whatever its shape (an API principal acts in chat too)
            value = actor.user_id if value == "mine" else check_user_id(actor.workspace, value)

        async def attempt() -> PlanModification:
            session = await self.find(actor, ref, channel_id=channel_id)
            await self.require_permission(actor, session, Perm.WORK)
            await self._next_status(actor, session, Action.MODIFY)
            plan = await self.store.plans.current(session.id)
            item = next((i for i in plan.items if i.position == position), None) if plan else None
            if plan is None or item is None:
                raise NotFound("plan item", f"{position} in session #{session.ref}")
            now = self.clock.now()
            changes = _item_change(item, action, value, actor.user_id, now)
            mod_id = new_id()
            data = {"plan_id": plan.id, "item": position, "action": action.value, "value": value}
            hooks = await self.webhooks.ops_for(
                session,
                EventType.MODIFICATION.value,
                data,
                now,
                key=f"modification:{mod_id}",
                modification_id=mod_id,
            )
            mod = PlanModification(
                id=mod_id,
                session_id=session.id,
                plan_id=plan.id,
                position=position,
                user_id=actor.user_id,
                action=action,
                value=value,
                created_at=now,
                processed=not hooks,  # else when its webhook deliveries succeed
                processed_at=None if hooks else now,
            )
            changed = dataclasses.replace(item, **changes)
            shown = dataclasses.replace(
                plan, items=[changed if i is item else i for i in plan.items]
            )
            view = cards.plan_message(session, shown)
            await self.store.apply(
                [
                    ops.UpdatePlan(plan.id, plan.row_version, {}),
                    ops.UpdatePlanItem(plan.id, position, changes),
                    ops.AddModification(mod),
                    self._event(session, EventType.MODIFICATION, actor, data),
                    await self._touch_op(session, now),
                    notices.plan_update(session, shown, view, key=f"modified:{mod_id}", now=now),
                    *hooks,
                ]
            )
            return mod

        return await self._retry(attempt)

    async def expire_plan(self, plan_id: str) -> Plan:
        """The approval request ran out: the plan is `expired` and the session paused."""
        session, plan = await self._plan_by_id(plan_id)
        if plan.status is not PlanStatus.PENDING:
            raise Conflict(f"Plan v{plan.version} is {plan.status.value}, not pending.")
        now = self.clock.now()
        changes: dict[str, Any] = {"status": PlanStatus.EXPIRED, "decided_at": now}
        expired = dataclasses.replace(plan, **changes)
        view = cards.plan_message(session, expired)
        await self.transition(
            self.system_actor(session.workspace),
            session,
            Action.EXPIRE,
            EventType.PLAN_EXPIRED,
            data={"plan_id": plan.id, "plan": plan.version},
            extra=[
                ops.UpdatePlan(plan.id, plan.row_version, changes, PlanStatus.PENDING.value),
                notices.plan_update(session, expired, view, key=f"expired:{plan.id}", now=now),
            ],
        )
        return expired

    async def rerequest(self, actor: Actor, plan_id: str) -> Plan:
        """Ask again for approval of an expired plan: the same items as a new version."""
        session, plan = await self._plan_by_id(plan_id, workspace=actor.workspace)
        if plan.status is not PlanStatus.EXPIRED:
            raise Conflict(
                f"Plan v{plan.version} is {plan.status.value}; "
                "only expired plans can be re-requested."
            )
        await self._next_status(actor, session, Action.REREQUEST)
        lasted = plan.expires_at - plan.submitted_at if plan.expires_at else None
        return await self.submit_plan(
            actor,
            session.id,
            [i.title for i in plan.items],
            need=plan.required_approvals,
            expires=lasted,
        )

    async def deciders(self, session: Session, plan: Plan) -> set[str]:
        """Who is known to be able to decide `plan`: owner, approvers and named admins."""
        members = await self.store.sessions.members(session.id)
        settings = await self.settings(session.workspace)
        return possible_deciders(
            session, members, settings, self.config.admins, submitted_by=plan.submitted_by
        )

    async def abandon(self, session_id: str) -> Session:
        """The sweep's verdict on an idle session."""
        session = await self.store.sessions.by_id(session_id)
        if session is None:
            raise NotFound("session", session_id)
        actor = self.system_actor(session.workspace)
        return await self.transition(
            actor, session, Action.ABANDON, EventType.ABANDONED, due_by=self.clock.now()
        )

    def system_actor(self, workspace: str) -> Actor:
        return Actor(workspace, SYSTEM_USER, Source.SCHEDULER, platform_admin=True)

    async def _plan_by_id(
        self, plan_id: str, *, workspace: str | None = None
    ) -> tuple[Session, Plan]:
        plan = await self.store.plans.get(plan_id)
        session = await self.store.sessions.by_id(plan.session_id) if plan else None
        if plan is None or session is None or workspace not in (None, session.workspace):
            raise NotFound("plan", plan_id)
        if plan.status is PlanStatus.PENDING and session.status is not Status.PENDING:
            # A decision commits plan and session at once; one that landed between the two
            # reads shows in a second read, so a late click hears who decided (a Conflict).
            plan = await self.store.plans.get(plan_id) or plan
        return session, plan

    # -- stats -------------------------------------------------------------------------------

    async def approval_latency(
        self, workspace: str, *, since: datetime, until: datetime, channel_id: str | None = None
    ) -> timedelta | None:
        """The one median approval latency: submission to a person's decision (approved or
        rejected, also when later superseded), over the decisions made in (since, until]."""
        latencies = await self.store.plans.approval_latencies(
            workspace, since=since, until=until, channel_id=channel_id
        )
        return _median(latencies)

    async def stats(self, actor: Actor, *, days: int = 30) -> Stats:
        now = self.clock.now()
        since = now - timedelta(days=days)
        rows = await self.store.workspaces.stats(actor.workspace, since)
        outcomes = rows.outcomes
        ended = sum(outcomes.values())
        counts = await self.store.outbox.counts()
        return Stats(
            days=days,
            by_status=rows.by_status,
            by_mode=rows.by_mode,
            average_iterations=rows.average_iterations,
            success_rate=outcomes.get("completed", 0) / ended if ended else None,
            median_duration=_median(rows.durations),
            median_approval_latency=await self.approval_latency(
                actor.workspace, since=since, until=now
            ),
            outbox_pending=counts.get("pending", 0),
            outbox_dead=counts.get("dead", 0),
            jobs=await self.store.jobs.runs(workspace=actor.workspace),
            outbox_waiting=await waiting_total(self.store.outbox, self.delivered_platforms),
        )


def _item_change(
    item: Any, action: ModAction, value: str, user_id: str, now: datetime
) -> dict[str, Any]:
    if action is ModAction.STATUS_CHANGE:
        try:
            return {"status": ItemStatus(value)}
        except ValueError:
            raise UsageError(
                f"`{value[:40]}` is not an item status.", usage=COMMANDS["modify"].usage
            ) from None
    if action is ModAction.REASSIGN:
        return {"assignee": value}
    if not value.strip():
        raise UsageError("The comment is empty.")
    comment = {"by": user_id, "at": now.isoformat(), "text": _clip(value)}
    return {"comments": [*item.comments, comment]}


def _clip(text: str | None) -> str:
    return (text or "").strip()[:MAX_REASON]


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


__all__ = [
    "DecisionResult",
    "InvalidTransition",
    "ServiceConfig",
    "SessionDetail",
    "SessionListing",
    "SessionService",
    "Stats",
]
