"""Requests from agents (SPEC §16): an action to approve (Approve, edit, Reject) or a question
to answer, decided by the one rule of core/decisions.py and waited for without polling."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core import notices, request_cards
from core.access import Access
from core.clock import Clock
from core.decisions import tally
from core.errors import Conflict, Forbidden, NotFound, UsageError
from core.models import Actor, Decision, EventType, Session
from core.permissions import Perm
from core.records.requests import (
    OnExpiry,
    Request,
    RequestKind,
    RequestStatus,
    Risk,
    Vote,
    digest,
)
from core.services.asks import MAX_TEXT, Ask, checked_args, new_request
from core.services.sessions import Lifecycle, clip, system_actor
from core.settings import Settings
from core.states import Action
from core.store import ops
from core.store.store import Store
from core.units import Units, retried
from core.views import mention
from core.waiters import Waiters

MAX_WAIT = timedelta(seconds=60)
SCANNED = 200  # a workspace's pending requests looked at to list those waiting for someone


@dataclass(slots=True)
class RequestOutcome:
    """A request after someone decided: settled or counted towards N, or a repeated click."""

    session: Session
    request: Request
    settled: bool
    approvals: int
    repeated: bool = False


@dataclass(slots=True)
class Requests:
    store: Store
    clock: Clock
    settings: Settings
    access: Access
    units: Units
    sessions: Lifecycle
    waiters: Waiters = field(default_factory=Waiters)

    async def create(self, actor: Actor, ref: str | None, ask: Ask) -> Request:
        """Post a request in the session's thread; the agent then waits for its decision."""
        session = await self.sessions.find_for(actor, ref, Perm.WORK)
        await self.access.next_status(actor, session, Action.RECORD)
        now = self.clock.now()
        settings = await self.settings.get(session.workspace)
        expires_in = ask.expires_in or settings.approval_expires_after
        request = new_request(ask, actor, session, now, expires_in)
        created = self.units.event(session, EventType.REQUEST_CREATED, actor, _event_data(request))
        await self.store.apply(
            [
                ops.NewRequest(request),
                created,
                notices.request_post(
                    session, request, request_cards.message(session, request), now=now
                ),
                await self.units.touch(session, now),
                *await self.units.hooks(
                    session,
                    EventType.REQUEST_CREATED.value,
                    _event_data(request),
                    now,
                    key=f"event:{created.event.id}",
                ),
            ]
        )
        return request

    async def get(self, actor: Actor, request_id: str) -> tuple[Session, Request]:
        """A request of the actor's workspace (NotFound for any other, as for a wrong id)."""
        found = await self.store.requests.with_session(request_id)
        if found is None or found[0].workspace != actor.workspace:
            raise NotFound("request", request_id[:40])
        return found

    async def of_session(
        self, actor: Actor, ref: str | None, *, status: RequestStatus | None = None,
        channel_id: str | None = None,
    ) -> tuple[Session, list[Request]]:  # fmt: skip
        session = await self.sessions.find(actor, ref, channel_id=channel_id)
        return session, await self.store.requests.of_session(session.id, status=status)

    async def waiting_for(
        self, actor: Actor, *, limit: int
    ) -> tuple[list[tuple[Session, Request]], int]:
        """The workspace's pending requests the actor may decide or answer, oldest first: at
        most `limit`, and how many there are among its `SCANNED` oldest pending ones."""
        found: list[tuple[Session, Request]] = []
        for request in await self.store.requests.pending_in(actor.workspace, limit=SCANNED):
            session = await self.store.sessions.by_id(request.session_id)
            if session is not None and await self._is_decider(actor, session, request):
                found.append((session, request))
        return found[:limit], len(found)

    async def _is_decider(self, actor: Actor, session: Session, request: Request) -> bool:
        try:
            if request.kind is RequestKind.QUESTION:
                await self._require_answerer(actor, session, request)
            else:  # rejecting is every decider's (approving may be self-approval)
                await self._may_decide(actor, session, request, Decision.REJECT, None)
        except Forbidden:
            return False
        return True

    async def wait(self, actor: Actor, request_id: str, up_to: timedelta) -> Request:
        """The request once it is no longer pending, or as it is when `up_to` runs out; woken
        by the commit that decides it in this process (a real-time wait, never a poll)."""
        if not timedelta(0) <= up_to <= MAX_WAIT:
            raise UsageError(f"wait is 0 to {int(MAX_WAIT.total_seconds())} seconds.")
        with self.waiters.watch(request_id) as decided:
            _, request = await self.get(actor, request_id)
            if request.status is not RequestStatus.PENDING or not up_to:
                return request
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(up_to.total_seconds()):
                    await decided.wait()
        return (await self.get(actor, request_id))[1]

    async def decide(
        self,
        actor: Actor,
        request_id: str,
        decision: Decision,
        *,
        shown_digest: str | None = None,
        reason: str | None = None,
        edited_args: dict[str, Any] | None = None,
        confirm: str | None = None,
    ) -> RequestOutcome:
        """Approve (possibly with edited arguments) or reject an action; exactly one concurrent
        decision settles it, and a click on arguments that changed since it was shown is refused."""

        async def attempt() -> RequestOutcome:
            session, request = await self.get(actor, request_id)
            await self._may_decide(actor, session, request, decision, shown_digest)
            high = decision is Decision.APPROVE and request.risk is Risk.HIGH
            if high and confirm != request.action:
                raise UsageError(
                    f"This is a high-risk action: type its name `{request.action}` to approve it."
                )
            return await self._vote(actor, session, request, decision, reason, edited_args)

        return await retried(attempt)

    async def to_decide(
        self, actor: Actor, request_id: str, *, shown_digest: str | None = None
    ) -> tuple[Session, Request]:
        """A pending request the actor may approve (an action, as shown) or answer (a question):
        what a form about to open shows, refused as the decision itself would be."""
        session, request = await self.get(actor, request_id)
        if request.kind is RequestKind.QUESTION:
            _still_pending(request)
            await self._require_answerer(actor, session, request)
        else:
            await self._may_decide(actor, session, request, Decision.APPROVE, shown_digest)
        return session, request

    async def _may_decide(
        self,
        actor: Actor,
        session: Session,
        request: Request,
        decision: Decision,
        shown_digest: str | None,
    ) -> None:
        if request.kind is not RequestKind.ACTION:
            raise UsageError("A question is answered, not approved: use `answer`.")
        _still_pending(request)
        if shown_digest is not None and shown_digest != request.digest:
            raise Conflict(
                "The arguments of this request changed since it was shown to you; "
                "look at it again before deciding."
            )
        await self._require_decider(actor, session, request, decision)

    async def _vote(
        self,
        actor: Actor,
        session: Session,
        request: Request,
        decision: Decision,
        reason: str | None,
        edited_args: dict[str, Any] | None,
    ) -> RequestOutcome:
        changes: dict[str, Any] = {}
        current = request
        if edited_args is not None and decision is Decision.APPROVE:
            args = checked_args(edited_args)
            changes = {"edited_args": args, "digest": digest(request.action, args)}
            current = dataclasses.replace(request, **changes)
        counted = tally(current.approvers_of_current(), request.need, actor.user_id, decision)
        if counted.repeated:
            return RequestOutcome(session, request, False, counted.approvals, repeated=True)
        now = self.clock.now()
        vote = Vote(request.id, actor.user_id, decision, current.digest, now, _reason(reason))
        if counted.settles:
            status = RequestStatus.APPROVED if counted.approved else RequestStatus.REJECTED
            changes |= {
                "status": status,
                "decided_by": actor.user_id,
                "decided_at": now,
                "reason": vote.reason,
            }
        votes = [v for v in request.votes if v.user_id != actor.user_id] + [vote]
        decided = dataclasses.replace(
            request, **changes, votes=votes, row_version=request.row_version + 1
        )
        await self._settle(actor, session, request, decided, changes, [ops.PutVote(vote)])
        return RequestOutcome(session, decided, counted.settles, counted.approvals)

    async def answer(
        self, actor: Actor, request_id: str, *, choice: int | None = None, text: str | None = None
    ) -> RequestOutcome:
        """The first answer to a question resolves it (a choice by its number, or free text)."""
        session, request = await self.get(actor, request_id)
        if request.kind is not RequestKind.QUESTION:
            raise UsageError("An action is approved or rejected, not answered.")
        _still_pending(request)
        await self._require_answerer(actor, session, request)
        if choice is not None:
            if not 1 <= choice <= len(request.choices):
                raise UsageError(f"Choose a number from 1 to {len(request.choices)}.")
            answer = request.choices[choice - 1]
        elif not request.free_text:
            raise UsageError("This question is answered by choosing one of its choices.")
        else:
            answer = (text or "").strip()
            if not answer or len(answer) > MAX_TEXT:
                raise UsageError(f"An answer is 1 to {MAX_TEXT} characters.")
        now = self.clock.now()
        changes: dict[str, Any] = {
            "status": RequestStatus.ANSWERED,
            "answer": answer,
            "decided_by": actor.user_id,
            "decided_at": now,
        }
        decided = dataclasses.replace(request, **changes, row_version=request.row_version + 1)
        await self._settle(actor, session, request, decided, changes, [])
        return RequestOutcome(session, decided, True, 0)

    async def expire(self, request_id: str, now: datetime) -> Request:
        """Its time ran out by `now` (the sweep's time): apply `on_expiry` (reject, approve a
        low-risk action, or escalate once — a second expiry of an escalated request rejects it)."""
        request = await self.store.requests.get(request_id)
        session = await self.store.sessions.by_id(request.session_id) if request else None
        if request is None or session is None:
            raise NotFound("request", request_id)
        _still_pending(request)
        if request.expires_at is None or request.expires_at > now:
            raise Conflict("This request's time has not run out.")  # another sweep extended it
        if request.on_expiry is OnExpiry.ESCALATE and not request.escalated:
            return await self._escalate(session, request)
        approve = request.on_expiry is OnExpiry.APPROVE and request.risk is Risk.LOW
        changes: dict[str, Any] = {
            "status": RequestStatus.APPROVED if approve else RequestStatus.EXPIRED,
            "decided_at": self.clock.now(),
        }
        decided = dataclasses.replace(request, **changes, row_version=request.row_version + 1)
        actor = system_actor(session.workspace)
        await self._settle(actor, session, request, decided, changes, [])
        return decided

    async def _escalate(self, session: Session, request: Request) -> Request:
        """Add the workspace's escalation approvers, post the request in its escalation channel
        (a second copy, updated in place with the first) and extend it once by its own time."""
        if request.expires_at is None:  # the sweep expires only requests with a deadline
            raise Conflict("This request has no deadline to extend.")
        settings = await self.settings.get(session.workspace)
        approvers = await self.approvers_of(session, request)
        added = [a for a in settings.escalation_approvers if a not in approvers]
        changes: dict[str, Any] = {
            "approvers": [*approvers, *added],
            "expires_at": request.expires_at + (request.expires_at - request.created_at),
            "escalated": True,
        }
        escalated = dataclasses.replace(request, **changes, row_version=request.row_version + 1)
        extra: list[ops.Op] = []
        channel_id = settings.escalation_channel
        if channel_id:
            view = request_cards.message(session, escalated)
            now = self.clock.now()
            extra.append(notices.request_elsewhere(session, escalated, view, channel_id, now=now))
        data = {
            "request_id": request.id,
            "added_approvers": added,
            "expires_at": changes["expires_at"].isoformat(),
            "escalation_channel": channel_id,
        }
        actor = system_actor(session.workspace)
        event = (EventType.REQUEST_ESCALATED, data)
        await self._settle(actor, session, request, escalated, changes, extra, event=event)
        return escalated

    async def approvers_of(self, session: Session, request: Request) -> list[str]:
        """Who decides `request`: the named approvers, or whoever may decide on the session."""
        if request.approvers:
            return list(request.approvers)
        deciders = await self.access.deciders_of(
            session, submitted_by=request.created_by, high_risk=request.risk is Risk.HIGH
        )
        return sorted(deciders)

    async def waiting_on(self, session: Session, request: Request) -> list[str]:
        """The approvers of `request` who have not decided its current arguments yet."""
        done = {v.user_id for v in request.votes if v.digest == request.digest}
        return [a for a in await self.approvers_of(session, request) if a not in done]

    async def _require_answerer(self, actor: Actor, session: Session, request: Request) -> None:
        if actor.user_id not in request.approvers:  # named (or escalated to): they may answer
            await self.access.require(actor, session, Perm.WORK)

    async def _require_decider(
        self, actor: Actor, session: Session, request: Request, decision: Decision
    ) -> None:
        """The named approvers (or, when none are named, whoever may decide on the session)
        and admins; the requester approves its own request only when the workspace allows."""
        if request.approvers and not await self.access.is_admin(actor):
            if actor.user_id not in request.approvers:
                named = ", ".join(mention(a) for a in request.approvers)
                raise Forbidden("decide this request", [f"one of {named}", "an admin"])
        else:
            await self.access.require(actor, session, Perm.DECIDE)
        if decision is Decision.APPROVE and actor.user_id == request.created_by:
            settings = await self.settings.get(session.workspace)
            high = request.risk is Risk.HIGH
            policy = settings.high_risk_self_approval if high else settings.self_approval
            if policy == "forbidden":
                raise Forbidden(
                    "decide this request",
                    ["another approver"],
                    detail="this workspace forbids approving your own request.",
                )

    async def _settle(
        self,
        actor: Actor,
        session: Session,
        request: Request,
        decided: Request,
        changes: dict[str, Any],
        extra: list[ops.Op],
        *,
        event: tuple[EventType, dict[str, Any]] | None = None,
    ) -> None:
        """One unit: the compare-and-set on the request, its vote, event, message and webhooks;
        its commit wakes the request's waiters here and on other replicas (the store's wake keys).
        A request still pending records `event` when given (an escalation), one settled its
        decision or expiry."""
        now = self.clock.now()
        unit: list[ops.Op] = [
            *extra,
            ops.UpdateRequest(request.id, request.row_version, changes),
            notices.request_update(
                session,
                decided,
                request_cards.message(session, decided),
                key=f"request:{request.id}:{decided.row_version}",
                now=now,
            ),
        ]
        if decided.status is not RequestStatus.PENDING:
            kind = (
                EventType.REQUEST_EXPIRED
                if decided.status is RequestStatus.EXPIRED
                else EventType.REQUEST_DECIDED
            )
            event = (kind, _decision_data(decided))
        if event is not None:
            kind, data = event
            added = self.units.event(session, kind, actor, data)
            unit += [
                added,
                *await self.units.hooks(
                    session, kind.value, data, now, key=f"event:{added.event.id}"
                ),
            ]
        try:
            await self.store.apply(unit)
        except Conflict:
            fresh = await self.store.requests.get(request.id)
            if fresh is not None and fresh.status is not RequestStatus.PENDING:
                raise _settled_conflict(fresh) from None
            raise


def _still_pending(request: Request) -> None:
    if request.status is not RequestStatus.PENDING:
        raise _settled_conflict(request)


def _settled_conflict(request: Request) -> Conflict:
    """A decision came too late: who settled the request, and when."""
    who = f" by {mention(request.decided_by)}" if request.decided_by else ""
    when = f" at {request.decided_at:%Y-%m-%d %H:%M} UTC" if request.decided_at else ""
    return Conflict(
        f"This request was already {request.status.value}{who}{when}.",
        decided_by=request.decided_by,
        decided_at=request.decided_at,
    )


def _reason(reason: str | None) -> str | None:
    return clip(reason) or None


def _event_data(request: Request) -> dict[str, Any]:
    if request.kind is RequestKind.QUESTION:
        return {"request_id": request.id, "kind": "question", "question": request.question}
    return {
        "request_id": request.id,
        "kind": "action",
        "action": request.action,
        "args": request.args,
        "risk": request.risk.value,
        "need": request.need,
    }


def _decision_data(request: Request) -> dict[str, Any]:
    """The audit trail of a decision: what was asked, what was decided, the edit if any."""
    data: dict[str, Any] = {"request_id": request.id, "status": request.status.value}
    if request.kind is RequestKind.QUESTION:
        return data | {"answer": request.answer}
    data |= {"action": request.action, "args": request.args, "reason": request.reason}
    if request.edited_args is not None:
        data["edited_args"] = request.edited_args
    return data
