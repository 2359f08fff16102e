"""The domain records of §1 as plain dataclasses; the store maps them to rows."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

JSON = dict[str, Any]


_random = random.Random()  # seeded from os.urandom; ids need uniqueness, not secrecy
_VERSION_7 = 0x7 << 76 | 0x2 << 62  # RFC 9562: version 7, variant 0b10
_RANDOM_BITS = ~(0xF << 76 | 0x3 << 62)  # the 74 bits left random around them


def _milliseconds() -> int:
    return time.time_ns() // 1_000_000


def new_id() -> str:
    """A fresh UUID7 string (RFC 9562), the id of every record: the creation millisecond, then
    74 random bits. Ids made later sort after earlier ones, so each index on an id takes new rows
    at its end instead of at random pages (with random ids, inserts slow down as a table outgrows
    the cache). The time in it is the wall clock's: ids are opaque, nothing reads it back. Never
    a secret: tokens use `secrets`."""
    value = _milliseconds() << 80 | _random.getrandbits(80) & _RANDOM_BITS | _VERSION_7
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    ABANDONED = "abandoned"
    ARCHIVED = "archived"


OPEN_STATUSES = frozenset({Status.ACTIVE, Status.PAUSED, Status.PENDING})
DONE_STATUSES = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT})
# Ended: over, by a person or a sweep, and not yet archived (what may be archived).
ENDED_STATUSES = DONE_STATUSES | {Status.ABANDONED}


class Role(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    APPROVER = "approver"
    VIEWER = "viewer"


class PlanStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


# A plan not yet replaced by a newer version (a new plan supersedes these).
CURRENT_PLAN_STATUSES = frozenset(PlanStatus) - {PlanStatus.SUPERSEDED}


class ItemStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    BLOCKED = "blocked"
    SKIPPED = "skipped"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ModAction(StrEnum):
    STATUS_CHANGE = "status_change"
    REASSIGN = "reassign"
    COMMENT = "comment"


class Source(StrEnum):
    SLACK = "slack"
    DISCORD = "discord"
    CONSOLE = "console"
    API = "api"
    WEB = "web"
    SCHEDULER = "scheduler"
    SYSTEM = "system"


class EventType(StrEnum):
    CREATED = "created"
    STARTED = "started"
    PLAN_SUBMITTED = "plan_submitted"
    PLAN_APPROVED = "plan_approved"
    PLAN_REJECTED = "plan_rejected"
    PLAN_APPROVAL = "plan_approval"
    PLAN_EXPIRED = "plan_expired"
    MODIFICATION = "modification"
    PAUSED = "paused"
    RESUMED = "resumed"
    ITERATION = "iteration"
    TOOL_CALL = "tool_call"
    LEARNING = "learning"
    MESSAGE = "message"
    CONTEXT_UPDATED = "context_updated"
    EXTENDED = "extended"
    SHARED = "shared"
    UNSHARED = "unshared"
    TRANSFERRED = "transferred"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    ABANDONED = "abandoned"
    ARCHIVED = "archived"
    FORKED = "forked"
    REMINDER_SENT = "reminder_sent"
    ERROR = "error"
    REQUEST_CREATED = "request_created"
    REQUEST_DECIDED = "request_decided"
    REQUEST_EXPIRED = "request_expired"
    REQUEST_ESCALATED = "request_escalated"


class OutboxKind(StrEnum):
    CHANNEL_MESSAGE = "channel_message"
    MESSAGE_UPDATE = "message_update"
    DM = "dm"
    WEBHOOK = "webhook"
    HOME = "home"  # republish a person's Slack App Home (core/home.py)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """Where something lives in chat: a small value, never an adapter object."""

    platform: str
    workspace: str
    channel_id: str
    thread_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: a platform user in one workspace."""

    workspace: str
    user_id: str
    source: Source
    platform_admin: bool = False


@dataclass(slots=True)
class Member:
    user_id: str
    role: Role
    added_by: str | None = None
    added_at: datetime | None = None


MAX_MODE = 40
# A session's mode is a free label, one word as chat's `mode:<word>` gives it: no spaces.
MODE_PATTERN = r"^[^\s\x00]{1,40}$"


@dataclass(slots=True)
class Session:
    id: str
    ref: int
    workspace: str
    channel_id: str
    owner_id: str
    title: str
    mode: str
    status: Status
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime
    abandon_at: datetime | None
    thread_ref: str | None = None
    context: JSON = field(default_factory=dict)
    metadata: JSON = field(default_factory=dict)
    iterations: int = 0
    max_iterations: int = 100
    ended_at: datetime | None = None
    result: str | None = None
    outcome: str | None = None
    error: str | None = None
    parent_id: str | None = None
    forked_from_message_id: str | None = None
    version: int = 1

    @property
    def progress(self) -> float:
        """Iterations as a fraction of the maximum, capped at 1."""
        return min(1.0, self.iterations / self.max_iterations) if self.max_iterations else 0.0


@dataclass(slots=True)
class PlanItem:
    position: int
    title: str
    assignee: str | None = None
    status: ItemStatus = ItemStatus.TODO
    ticket: str | None = None
    comments: list[JSON] = field(default_factory=list)


@dataclass(slots=True)
class Approval:
    plan_id: str
    user_id: str
    decision: Decision
    content_hash: str
    at: datetime
    reason: str | None = None


@dataclass(slots=True)
class PlanMessageRef:
    platform: str
    channel_id: str
    message_ref: str


@dataclass(slots=True)
class Plan:
    id: str
    session_id: str
    version: int
    status: PlanStatus
    items: list[PlanItem]
    content_hash: str
    required_approvals: int
    submitted_by: str
    submitted_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    expires_at: datetime | None = None
    superseded_by: str | None = None
    superseded_at: datetime | None = None
    approvals: list[Approval] = field(default_factory=list)
    messages: list[PlanMessageRef] = field(default_factory=list)
    row_version: int = 1

    @property
    def settled_as(self) -> PlanStatus | None:
        """How the plan was settled (approved, rejected or expired), also once superseded."""
        if self.decided_at is None:
            return None
        if self.decided_by is None:
            return PlanStatus.EXPIRED
        by_decider = (a.decision for a in self.approvals if a.user_id == self.decided_by)
        decision = next(by_decider, None)
        return PlanStatus.REJECTED if decision is Decision.REJECT else PlanStatus.APPROVED

    def approvers_of_current(self) -> set[str]:
        """Distinct people who approved the current item list."""
        return {
            a.user_id
            for a in self.approvals
            if a.decision is Decision.APPROVE and a.content_hash == self.content_hash
        }


@dataclass(slots=True)
class PlanModification:
    id: str
    session_id: str
    plan_id: str
    position: int
    user_id: str
    action: ModAction
    value: str
    created_at: datetime
    processed: bool = False
    processed_at: datetime | None = None
    error: str | None = None


@dataclass(slots=True)
class Event:
    id: str
    session_id: str
    seq: int
    type: EventType
    actor_id: str
    source: Source
    data: JSON
    created_at: datetime


@dataclass(slots=True)
class OutboxRow:
    id: str
    workspace: str
    kind: OutboxKind
    target: JSON
    payload: JSON
    dedupe_key: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None = None
    delivered_at: datetime | None = None
    result_ref: str | None = None
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class WorkspaceSettings:
    """Per-workspace policy; defaults come from configuration."""

    abandon_after: timedelta = timedelta(hours=24)
    archive_after: timedelta = timedelta(days=7)
    retention: timedelta = timedelta(days=30)
    remind_pending_after: timedelta = timedelta(hours=2)
    remind_paused_after: timedelta = timedelta(hours=24)
    abandon_warning_before: timedelta = timedelta(hours=4)
    self_approval: str = "allowed"
    high_risk_self_approval: str = "forbidden"
    approval_expires_after: timedelta | None = None
    admins: tuple[str, ...] = ()
    timezone: str = "UTC"
    remind_requests: str = "on"  # reminders of pending requests at 50 % and 80 % of their time
    escalation_approvers: tuple[str, ...] = ()
    escalation_channel: str | None = None
