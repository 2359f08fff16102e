"""Request routes: an agent asks (an action to approve or a question), waits for the decision
without polling, and approvers decide through the API as they would with a click in chat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from bot.api import models as m
from bot.api.errors import ApiError, error_json
from bot.api.route import Call, Param, Route, number
from bot.api.runtime import TOKEN
from core.durations import parse_duration
from core.errors import UsageError
from core.models import Decision
from core.records.requests import OnExpiry, Request, RequestKind, RequestStatus, Risk
from core.services.asks import Ask
from core.services.requests import MAX_WAIT

_TAG = "requests"
_ACTION_ONLY = ("args", "summary", "risk", "need", "approvers")
_QUESTION_ONLY = ("choices", "free_text")
# Which optional fields each decision takes.
_DECISION_FIELDS = {
    "approve": {"args", "reason", "confirm", "digest"},
    "reject": {"reason", "digest"},
    "answer": {"choice", "text"},
}


def _ts(value: Any) -> str | None:
    return value.isoformat() if value else None


def request_record(r: Request) -> dict[str, Any]:
    """A request as the agent reads it: for an action, `args_to_run` is what it runs with."""
    action = r.kind is RequestKind.ACTION
    approved = action and r.status is RequestStatus.APPROVED
    return {
        "id": r.id, "session_id": r.session_id, "kind": r.kind.value, "status": r.status.value,
        "action": r.action if action else None, "args": r.args if action else None,
        "edited_args": r.edited_args, "args_to_run": r.final_args if approved else None,
        "summary": r.summary if action else None, "risk": r.risk.value if action else None,
        "need": r.need if action else None, "approvals": len(r.approvers_of_current()),
        "approvers": r.approvers,
        "votes": [
            {"user_id": v.user_id, "decision": v.decision.value, "digest": v.digest,
             "reason": v.reason, "at": _ts(v.at)}
            for v in r.votes
        ],
        "digest": r.digest if action else None, "question": None if action else r.question,
        "choices": r.choices, "free_text": r.free_text, "answer": r.answer,
        "expires_at": _ts(r.expires_at), "on_expiry": r.on_expiry.value,
        "escalated": r.escalated, "decided_by": r.decided_by,
        "decided_at": _ts(r.decided_at), "reason": r.reason, "created_by": r.created_by,
        "created_at": _ts(r.created_at),
    }  # fmt: skip


def _invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_body", message)


def _ask(body: dict[str, Any]) -> Ask:
    """The body as an `Ask`: an action or a question, never both, and no field of the other."""
    if ("action" in body) == ("question" in body):
        raise _invalid("body: send either action (an approval) or question, not both.")
    kind, other, shown = (
        (RequestKind.ACTION, _QUESTION_ONLY, "an action")
        if "action" in body
        else (RequestKind.QUESTION, _ACTION_ONLY, "a question")
    )
    for name in other:
        if name in body:
            raise _invalid(f"body.{name}: not for {shown}")
    try:
        expires_in = parse_duration(body["expires_in"]) if "expires_in" in body else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Ask(
        kind,
        action=body.get("action", ""),
        args=body.get("args", {}),
        summary=body.get("summary", ""),
        risk=Risk(body.get("risk", "low")),
        need=body.get("need"),
        approvers=tuple(body.get("approvers", ())),
        expires_in=expires_in,
        on_expiry=OnExpiry(body.get("on_expiry", "reject")),
        question=body.get("question", ""),
        choices=tuple(body.get("choices", ())),
        free_text=body.get("free_text", False),
    )


async def create(call: Call) -> Any:
    ask = _ask(call.body)
    return request_record(
        await call.api.services.requests.create(call.actor, call.path["session"], ask)
    )


async def list_(call: Call) -> Any:
    status = call.query.get("status")
    _, found = await call.api.services.requests.of_session(
        call.actor, call.path["session"], status=RequestStatus(status) if status else None
    )
    return {"requests": [request_record(r) for r in found]}


async def show(call: Call) -> Any:
    """The request now, or — with `wait` — as soon as it is decided, at most `wait` seconds."""
    requests = call.api.services.requests
    _, request = await requests.get(call.actor, call.path["request"])
    wait = call.query.get("wait", 0)
    if wait and request.status is RequestStatus.PENDING:
        with call.api.parking.slot(call.request[TOKEN].id):  # 429 past the token's cap
            waited = await call.api.parking.unless_gone(
                call.request, requests.wait(call.actor, request.id, timedelta(seconds=wait))
            )
        if waited is None:  # nobody reads this answer
            return error_json(499, "client_closed", "The client closed the connection.")
        request = waited
    return request_record(request)


async def decide(call: Call) -> Any:
    b = call.body
    decision = b["decision"]
    extra = set(b) - {"decision"} - _DECISION_FIELDS[decision]
    if extra:
        raise _invalid(f"body.{sorted(extra)[0]}: not for decision {decision}")
    requests = call.api.services.requests
    if decision == "answer":
        if ("choice" in b) == ("text" in b):
            raise _invalid("body: answer with either choice or text.")
        outcome = await requests.answer(
            call.actor, call.path["request"], choice=b.get("choice"), text=b.get("text")
        )
    else:
        outcome = await requests.decide(
            call.actor,
            call.path["request"],
            Decision(decision),
            shown_digest=b.get("digest"),
            reason=b.get("reason"),
            edited_args=b.get("args"),
            confirm=b.get("confirm"),
        )
    return {
        "request": request_record(outcome.request),
        "settled": outcome.settled,
        "repeated": outcome.repeated,
    }


_STATUS: Any = Literal.__getitem__(tuple(s.value for s in RequestStatus))
_MAX_WAIT = int(MAX_WAIT.total_seconds())

ROUTES = [
    Route(
        "POST",
        "/sessions/{session}/requests",
        "createRequest",
        "Ask for an action's approval or ask a question (posted in the session's thread)",
        _TAG,
        create,
        m.AgentRequest,
        201,
        m.CreateRequest,
    ),
    Route(
        "GET",
        "/sessions/{session}/requests",
        "listRequests",
        "The session's requests, oldest first",
        _TAG,
        list_,
        m.RequestList,
        query=(Param("status", _STATUS, "Only requests in this status (e.g. `pending`)."),),
    ),
    Route(
        "GET",
        "/requests/{request}",
        "getRequest",
        "A request; with `wait`, answered as soon as it is decided",
        _TAG,
        show,
        m.AgentRequest,
        query=(
            Param(
                "wait",
                number(0, _MAX_WAIT, 30),
                f"Seconds (0 to {_MAX_WAIT}) to wait for a decision: the answer comes as soon "
                "as the request is decided, or with its pending state when the time runs out.",
            ),
        ),
    ),
    Route(
        "POST",
        "/requests/{request}/decision",
        "decideRequest",
        "Approve (possibly with edited args), reject, or answer a request",
        _TAG,
        decide,
        m.RequestDecided,
        body=m.DecideRequest,
    ),
]

__all__ = ["ROUTES", "request_record"]
