"""Plan routes: the current plan, submit a new version, approve or reject, modify an item."""

from __future__ import annotations

from typing import Any

from bot.api.route import Call, Route
from bot.api.schemas import DURATION, integer, obj, record, ref, string
from core.durations import parse_duration
from core.errors import NotFound, UsageError
from core.history.records import modification_record, plan_record, session_record
from core.models import Decision, ModAction
from core.service import MAX_REASON, DecisionResult

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
    detail = await call.api.service.show(call.actor, call.path["session"])
    if detail.plan is None:
        raise NotFound("plan", f"for session #{detail.session.ref}")
    return plan_record(detail.plan)


async def submit(call: Call) -> Any:
    b = call.body
    try:
        expires = parse_duration(b["expires_in"]) if "expires_in" in b else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    plan = await call.api.service.submit_plan(
        call.actor,
        call.path["session"],
        b["items"],
        need=b.get("required_approvals", 1),
        expires=expires,
    )
    return plan_record(plan)


async def approve(call: Call) -> Any:
    result = await call.api.service.decide(
        call.actor, Decision.APPROVE, ref=call.path["session"], reason=call.body.get("reason")
    )
    return _decision(result)


async def reject(call: Call) -> Any:
    result = await call.api.service.decide(
        call.actor, Decision.REJECT, ref=call.path["session"], reason=call.body.get("reason")
    )
    return _decision(result)


async def modify(call: Call) -> Any:
    ((field, value),) = call.body.items()
    mod = await call.api.service.modify(
        call.actor, call.path["session"], call.path["position"], _ACTIONS[field], value
    )
    return modification_record(mod)


_ITEM = string(min_length=1, max_length=500)
_SUBMIT = obj(
    {
        "items": {"type": "array", "items": _ITEM, "minItems": 1, "maxItems": 50},
        "required_approvals": integer(1, 20, description="Distinct approvals needed (default 1)."),
        "expires_in": DURATION | {"description": "The approval request expires after this."},
    },
    ("items",),
)
_REASON = obj({"reason": string(max_length=MAX_REASON)})
_DECISION = record(
    session=ref("Session"),
    plan=ref("Plan"),
    settled={"type": "boolean", "description": "The plan is now approved or rejected."},
    approvals=integer(0),
    repeated={"type": "boolean", "description": "This person had already approved."},
)
_MODIFY = obj(
    {
        "status": string(enum=("todo", "in_progress", "done", "blocked", "skipped")),
        "assignee": string(min_length=1, max_length=80),
        "comment": string(min_length=1, max_length=MAX_REASON),
    },
    min_properties=1,
    max_properties=1,
    description="Exactly one change.",
)

ROUTES = [
    Route("GET", _P, "getPlan", "The current plan", _TAG, current, ref("Plan")),
    Route(
        "POST",
        _P,
        "submitPlan",
        "Submit a plan (a new version supersedes the old)",
        _TAG,
        submit,
        ref("Plan"),
        201,
        _SUBMIT,
    ),
    Route(
        "POST",
        _P + "/approve",
        "approvePlan",
        "Approve the pending plan",
        _TAG,
        approve,
        _DECISION,
        body=_REASON,
    ),
    Route(
        "POST",
        _P + "/reject",
        "rejectPlan",
        "Reject the pending plan",
        _TAG,
        reject,
        _DECISION,
        body=_REASON,
    ),
    Route(
        "PATCH",
        _P + "/items/{position}",
        "modifyPlanItem",
        "Change an item's status, assignee or add a comment",
        _TAG,
        modify,
        ref("Modification"),
        body=_MODIFY,
    ),
]
