"""What the web inbox's pages read, in core (no HTTP here: bot/web renders them): the inbox
of what a person may decide, a session's whole record, the sessions list by a keyset cursor,
and the approval-latency histogram of the Stats page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.access import Access
from core.errors import UsageError
from core.models import Actor, Event, Member, Plan, Session
from core.permissions import Perm, allows, roles_of
from core.records.history import Message
from core.records.requests import Request, RequestKind
from core.services.sessions import LIST_FILTERS, Lifecycle
from core.store.store import Store
from core.store.web import Cursor
from core.users import check_user_id

INBOX_LIMIT = 200  # pending plans and requests read per kind for one inbox
INBOX_SHOWN = 50  # the oldest of them shown (the page says when there are more)


@dataclass(slots=True)
class InboxItem:
    """One thing waiting for this person: a plan or a request, with its session."""

    session: Session
    plan: Plan | None = None
    request: Request | None = None

    @property
    def since(self) -> datetime:
        if self.plan is not None:
            return self.plan.submitted_at
        assert self.request is not None
        return self.request.created_at

    @property
    def key(self) -> str:
        """An id for the page (and for live refreshes), changing when the item changes."""
        if self.plan is not None:
            return f"plan-{self.plan.id}-{self.plan.row_version}"
        assert self.request is not None
        return f"request-{self.request.id}-{self.request.row_version}"


@dataclass(slots=True)
class SessionView:
    """Everything the session page shows: header, members, every plan version with its
    decisions, the requests, the newest events and messages."""

    session: Session
    members: list[Member]
    plans: list[Plan]
    requests: list[Request]
    events: list[Event]
    messages: list[Message]


@dataclass(slots=True)
class SessionsPage:
    """One page of the sessions list and the cursor of the next one (None at the end)."""

    sessions: list[Session]
    after: Cursor | None


@dataclass(slots=True)
class WebReads:
    """What the web pages read, through the services' own lookups and the store: the inbox
    (what a person may decide in their workspace: pending plans, action approvals and
    questions, oldest first; deciding goes through the same services as chat), a session's
    page and the sessions list."""

    store: Store
    access: Access
    sessions: Lifecycle

    async def session(self, actor: Actor, ref: str, *, events: int = 200) -> SessionView:
        """A session of the actor's workspace (NotFound for any other, as for a wrong ref)."""
        session = await self.sessions.find(actor, ref)
        await self.access.require(actor, session, Perm.READ)
        newest = await self.store.events.newest(session.id, limit=events, before_seq=None)
        messages = await self.store.history.before(session.id, before_seq=None, limit=events)
        return SessionView(
            session,
            await self.store.sessions.members(session.id),
            await self.store.plans.of_session(session.id),
            await self.store.requests.of_session(session.id),
            sorted(newest, key=lambda e: e.seq),
            sorted(messages, key=lambda m: m.seq),
        )

    async def listing(
        self,
        actor: Actor,
        *,
        status: str = "all",
        owner: str | None = None,
        mode: str | None = None,
        channel: str | None = None,
        after: Cursor | None = None,
        limit: int = 25,
    ) -> SessionsPage:
        if status not in LIST_FILTERS:
            raise UsageError(f"Unknown status filter `{status[:40]}`.")
        owner_id = actor.user_id if owner == "mine" else owner
        if owner_id:
            owner_id = check_user_id(actor.workspace, owner_id.strip().removeprefix("@"))
        found = await self.store.web.sessions(
            actor.workspace,
            statuses=LIST_FILTERS[status],
            owner_id=owner_id or None,
            mode=mode or None,
            channel_id=channel or None,
            after=after,
            limit=limit + 1,
        )
        more = len(found) > limit
        shown = found[:limit]
        last = shown[-1] if more else None
        return SessionsPage(shown, (last.last_activity_at, last.ref) if last else None)

    async def inbox(self, actor: Actor) -> list[InboxItem]:
        """What the actor may decide, oldest first, at most INBOX_SHOWN: permissions are
        checked on the pending rows with their sessions (one query for the actor's roles),
        and only the items shown are read whole."""
        plans = await self.store.web.pending_plans(actor.workspace, limit=INBOX_LIMIT)
        asked = await self.store.web.pending_requests(actor.workspace, limit=INBOX_LIMIT)
        sessions = [s for _, s in plans] + [p.session for p in asked]
        member = await self.store.web.roles([s.id for s in sessions], actor.user_id)
        admin = await self.access.is_admin(actor) if sessions else False

        def allowed(session: Session, perm: Perm) -> bool:
            roles = {member[session.id]} if session.id in member else set()
            return allows(perm, admin=admin, roles=roles_of(actor.user_id, session, {}) | roles)

        found: list[InboxItem] = []
        for plan_id, session in plans:
            if allowed(session, Perm.DECIDE) and (plan := await self.store.plans.get(plan_id)):
                found.append(InboxItem(session, plan=plan))
            if len(found) >= INBOX_SHOWN:
                break
        shown = len(found)
        for pending in asked:
            if len(found) - shown >= INBOX_SHOWN:
                break
            named = actor.user_id in pending.approvers
            if pending.approvers and pending.kind is RequestKind.ACTION:
                may = named or admin  # only those named (or an admin) approve this action
            else:
                perm = Perm.DECIDE if pending.kind is RequestKind.ACTION else Perm.WORK
                may = named or allowed(pending.session, perm)
            if may and (request := await self.store.requests.get(pending.id)):
                found.append(InboxItem(pending.session, request=request))
        return sorted(found, key=lambda i: i.since)[:INBOX_SHOWN]
