"""Plan routes: the current plan, submit a new version, approve or reject, modify an item."""

from __future__ import annotations

from typing import Any

from bot.api import models as m
from bot.api.errors import ApiError
from bot.api.route import Call, Route
from core.durations import parse_duration
from core.errors import NotFound, UsageError
from core.history.records import modification_record, plan_record, session_record
from core.models import Decision, ModAction
from core.services.plans import DecisionResult

_P = "/sessions/{session}/plan"
_TAG = "plans"
_ACTIONS = {
    "status": ModAction.STATUS_CHANGE,
    "assignee": ModAction.REASSIGN,
    "comment": ModAction.COMMENT,
}


def _decision(result: DecisionResult) -> dict[str, Any]:
    return {
        "session": session_record(result.session),
        "plan": plan_record(result.plan),
        "settled": result.settled,
        "approvals": result.approvals,
        "repeated": result.repeated,
    }


async def current(call: Call) -> Any:
    detail = await call.api.services.sessions.show(call.actor, call.path["session"])
    if detail.plan is None:
        raise NotFound("plan", f"for session #{detail.session.ref}")
    return plan_record(detail.plan)


async def submit(call: Call) -> Any:
    b = call.body
    try:
        expires = parse_duration(b["expires_in"]) if "expires_in" in b else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    posted = await call.api.services.plans.submit(
        call.actor,
        call.path["session"],
        b["items"],
        need=b.get("required_approvals", 1),
        expires=expires,
    )
    return plan_record(posted.plan)


async def approve(call: Call) -> Any:
    result = await call.api.services.plans.decide(
        call.actor, Decision.APPROVE, ref=call.path["session"], reason=call.body.get("reason")
    )
    return _decision(result)


async def reject(call: Call) -> Any:
    result = await call.api.services.plans.decide(
        call.actor, Decision.REJECT, ref=call.path["session"], reason=call.body.get("reason")
    )
    return _decision(result)


async def modify(call: Call) -> Any:
    if len(call.body) != 1:
        fields = ", ".join(_ACTIONS)
        raise ApiError(422, "invalid_body", f"body: send exactly one of {fields}")
    ((field, value),) = call.body.items()
    modified = await call.api.services.plans.modify(
        call.actor, call.path["session"], call.path["position"], _ACTIONS[field], value
    )
    return modification_record(modified.modification)


ROUTES = [
    Route("GET", _P, "getPlan", "The current plan", _TAG, current, m.Plan),
    Route(
        "POST",
        _P,
        "submitPlan",
        "Submit a plan (a new version supersedes the old)",
        _TAG,
        submit,
        m.Plan,
        201,
        m.SubmitPlan,
    ),
    Route(
        "POST",
        _P + "/approve",
        "approvePlan",
        "Approve the pending plan",
        _TAG,
        approve,
        m.DecisionResult,
        body=m.WithReason,
    ),
    Route(
        "POST",
        _P + "/reject",
        "rejectPlan",
        "Reject the pending plan",
        _TAG,
        reject,
        m.DecisionResult,
        body=m.WithReason,
    ),
    Route(
        "PATCH",
        _P + "/items/{position}",
        "modifyPlanItem",
        "Change an item's status, assignee or add a comment",
        _TAG,
        modify,
        m.Modification,
        body=m.ModifyItem,
    ),
]
