"""`/session` commands about agents' requests: `requests`, `answer`, and `approve` / `reject`
given a request's id (with a session ref they decide the session's plan, as before).

A command shows no digest: it decides the request's arguments as they are when it runs.
"""

from __future__ import annotations

from core import request_cards
from core.errors import NotFound, UsageError
from core.grammar import Command
from core.handlers import Handler, said
from core.models import Actor, ChatRef, Decision, Session
from core.records.requests import Request, RequestKind, RequestStatus, Risk
from core.services.requests import RequestOutcome
from core.views import Reply
from core.wiring import Services

LISTED = 20  # requests `/session requests` lists


async def target(
    services: Services, actor: Actor, ref: str | None
) -> tuple[Session, Request] | None:
    """The one rule telling a request id from a session ref: a full id that names a request of
    the actor's workspace is that request; anything else (42, #42, a session's full id,
    nothing) is a session ref."""
    if ref is None or ref.isdigit():
        return None
    try:
        return await services.requests.get(actor, ref)
    except NotFound:
        return None


def or_request(on_plan: Handler) -> Handler:
    """`approve` / `reject`: a request when the ref names one (`target`), else the session's
    plan through `on_plan`."""

    async def handler(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
        found = await target(services, actor, cmd.ref)
        if found is not None:
            return await _decide(services, actor, found, cmd)
        if "confirm" in cmd.args:
            raise UsageError(
                "`confirm:` is for a high-risk request: give the request's id.",
                usage=cmd.spec.usage,
            )
        try:
            return await on_plan(services, actor, chat, cmd)
        except NotFound as exc:
            if cmd.ref is None or cmd.ref.isdigit() or exc.kind != "session":
                raise
            raise NotFound("session or request", cmd.ref) from None

    return handler


async def _decide(
    services: Services, actor: Actor, found: tuple[Session, Request], cmd: Command
) -> Reply:
    session, request = found
    confirm = cmd.args.get("confirm")
    if cmd.name == "reject":
        if not cmd.args.get("reason"):
            raise UsageError("Say why: the agent receives the reason.", usage=cmd.spec.usage)
        decision = Decision.REJECT
    else:
        high = request.kind is RequestKind.ACTION and request.risk is Risk.HIGH
        if high and confirm is None and request.status is RequestStatus.PENDING:
            return Reply(request_cards.confirm_needed(session, request))
        decision = Decision.APPROVE
    outcome = await services.requests.decide(
        actor, request.id, decision, reason=cmd.args.get("reason"), confirm=confirm
    )
    return _outcome_reply(outcome)


async def _answer(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    outcome = await services.requests.answer(
        actor, cmd.args["request"], choice=cmd.args.get("choice"), text=cmd.args.get("text")
    )
    return _outcome_reply(outcome)


async def _requests(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    if cmd.ref is None:
        found, total = await services.requests.waiting_for(actor, limit=LISTED)
        return Reply(request_cards.waiting_list(found, total))
    pending_only = cmd.args.get("status", "pending") == "pending"
    session, requests = await services.requests.of_session(
        actor,
        cmd.ref,
        status=RequestStatus.PENDING if pending_only else None,
        channel_id=chat.channel_id,
    )
    return Reply(request_cards.request_list(session, requests, pending_only=pending_only))


def _outcome_reply(outcome: RequestOutcome) -> Reply:
    view = request_cards.decided(
        outcome.session, outcome.request, approvals=outcome.approvals, settled=outcome.settled
    )
    return Reply(view) if outcome.repeated else said(view)


HANDLERS: dict[str, Handler] = {"requests": _requests, "answer": _answer}
