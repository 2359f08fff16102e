"""Pure plan rules: content hashing and what a decision does to a pending plan."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.decisions import tally
from core.errors import Conflict, UsageError
from core.models import Decision, Plan, PlanItem, PlanStatus, new_id
from core.views import mention

MAX_REQUIRED_APPROVALS = 20


def content_hash(titles: list[str]) -> str:
    """Hash of the items' titles in order: approvals count only for this exact list."""
    digest = hashlib.sha256("\x1f".join(titles).encode("utf-8"))
    return digest.hexdigest()[:16]


def build_plan(
    *,
    session_id: str,
    version: int,
    titles: list[str],
    submitted_by: str,
    now: datetime,
    required: int,
    expires_after: timedelta | None,
) -> Plan:
    if not titles:
        raise UsageError("A plan needs at least one item.")
    if not 1 <= required <= MAX_REQUIRED_APPROVALS:
        raise UsageError(f"need: must be between 1 and {MAX_REQUIRED_APPROVALS}.")
    return Plan(
        id=new_id(),
        session_id=session_id,
        version=version,
        status=PlanStatus.PENDING,
        items=[PlanItem(position=i, title=t) for i, t in enumerate(titles, start=1)],
        content_hash=content_hash(titles),
        required_approvals=required,
        submitted_by=submitted_by,
        submitted_at=now,
        expires_at=now + expires_after if expires_after else None,
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one person's decision does: count it, or settle the plan."""

    settles: bool
    status: PlanStatus
    approvals: int
    repeated: bool = False


def settled_conflict(plan: Plan) -> Conflict:
    """A decision came too late: who settled (or superseded) the plan, and when."""
    if plan.status is PlanStatus.SUPERSEDED:
        by, at = plan.superseded_by, plan.superseded_at
        text = f"Plan v{plan.version} was already superseded by plan v{plan.version + 1}"
    else:
        by, at = plan.decided_by, plan.decided_at
        text = f"Plan v{plan.version} was already {plan.status.value}"
    who = f" by {mention(by)}" if by else ""
    when = f" at {at:%Y-%m-%d %H:%M} UTC" if at else ""
    return Conflict(f"{text}{who}{when}.", decided_by=by, decided_at=at)


def evaluate(plan: Plan, user_id: str, decision: Decision) -> Outcome:
    """Apply the decision rule (core/decisions.py) to a pending plan."""
    if plan.status is not PlanStatus.PENDING:
        raise settled_conflict(plan)
    counted = tally(plan.approvers_of_current(), plan.required_approvals, user_id, decision)
    if not counted.settles:
        return Outcome(False, PlanStatus.PENDING, counted.approvals, repeated=counted.repeated)
    status = PlanStatus.APPROVED if counted.approved else PlanStatus.REJECTED
    return Outcome(True, status, counted.approvals)
