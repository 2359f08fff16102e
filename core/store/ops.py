"""Write operations as data: the service composes them, a store applies them atomically.

A list of ops is one unit of work: the store runs it in one transaction (or savepoint) and
either every op takes effect or none does. Guards (`expected_version`) turn lost races into
`Conflict` instead of silent overwrites.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import dataclass_transform

from core.models import JSON, Approval, Event, Member, OutboxRow, Plan, PlanModification, Session
from core.records.requests import Request, Vote


@dataclass_transform(frozen_default=True)
class Op:
    """A write op: every subclass is a frozen dataclass; `writes.APPLY` says how each applies."""

    def __init_subclass__(cls) -> None:
        dataclass(frozen=True)(cls)


class AllocateRef(Op):
    """Reserve the next per-workspace session ref (the result); a failed start leaves a gap."""

    workspace: str


class NewSession(Op):
    """Insert a session whose ref was allocated before."""

    session: Session
    members: tuple[Member, ...] = ()


class UpdateSession(Op):
    """Compare-and-set on (status, version): zero rows matched means Conflict."""

    session_id: str
    expected_version: int
    changes: JSON
    expected_status: str | None = None
    due_by: datetime | None = None  # also require abandon_at <= due_by (the sweep's verdict)


class AddEvent(Op):
    """Append an audit event; the store assigns its per-session seq (the result)."""

    event: Event


class Enqueue(Op):
    """Add an outbox row; a row with the same dedupe key is kept, not duplicated."""

    row: OutboxRow


class PutMember(Op):
    session_id: str
    member: Member


class RemoveMember(Op):
    session_id: str
    user_id: str


class NewPlan(Op):
    """Insert a plan with its items; the previous current plan becomes superseded."""

    plan: Plan


class UpdatePlan(Op):
    """Compare-and-set on the plan's row version."""

    plan_id: str
    expected_row_version: int
    changes: JSON
    expected_status: str | None = None


class PutApproval(Op):
    """One row per person and plan: a later decision by the same person replaces it."""

    approval: Approval


class UpdatePlanItem(Op):
    plan_id: str
    position: int
    changes: JSON


class AddModification(Op):
    modification: PlanModification


class PutSettings(Op):
    workspace: str
    values: JSON


class Touch(Op):
    """Record activity: pushes last_activity_at and abandon_at without a version bump."""

    session_id: str
    at: datetime
    abandon_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What a checked op's guard sees of the session, read inside the same transaction."""

    session_id: str
    ref: int
    status: str
    owner_id: str
    last_activity_at: datetime
    member_role: str | None
    # its last event's seq when read with the facts (SQLite): the store's, not the check's
    last_seq: int | None = field(default=None, compare=False)


Check = Callable[[SessionFacts], None]


class CheckedEvent(Op):
    """Append an event to the session `ref` names in `workspace`, after `check` approves it.

    One round trip for the hot path (agents reporting progress): the store reads the session
    and the actor's membership in the write transaction, calls the core's `check` (which
    raises NotFound / Forbidden / InvalidTransition), appends the event and, when the last
    activity is older than `touch_after`, records activity. Result: the event's seq.
    """

    workspace: str
    ref: str
    event: Event
    check: Check
    touch_after: timedelta
    abandon_after: timedelta


class NewRequest(Op):
    """Insert an agent's request (pending, no votes yet)."""

    request: Request


class UpdateRequest(Op):
    """Compare-and-set on a pending request's row version (Conflict when it changed)."""

    request_id: str
    expected_row_version: int
    changes: JSON


class PutVote(Op):
    """One row per person and request: a later decision by the same person replaces it."""

    vote: Vote
