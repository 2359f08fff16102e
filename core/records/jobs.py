"""Records of the scheduler feature (§1): reminders, subscriptions, job runs, claimed writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from core.models import Session


class ReminderKind(StrEnum):
    USER = "user"
    AUTO_PENDING = "auto_pending"
    AUTO_PAUSED = "auto_paused"
    AUTO_ABANDON_WARNING = "auto_abandon_warning"
    AUTO_REQUEST = "auto_request"  # a step of a pending request's escalation ladder


class ReminderStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class Reminder:
    """A reminder row; automatic ones use a deterministic id, so claiming one is inserting it."""

    id: str
    workspace: str
    session_id: str | None
    target: str  # `user:<id>` or `channel:<id>`
    text: str
    due_at: datetime
    created_by: str
    kind: ReminderKind
    status: ReminderStatus
    created_at: datetime


@dataclass(slots=True)
class Subscription:
    """A channel's scheduled summary (`daily 09:00` in an IANA timezone)."""

    workspace: str
    channel_id: str
    schedule: str
    timezone: str
    created_by: str
    created_at: datetime
    last_sent_at: datetime | None = None

    @property
    def job(self) -> str:
        return f"summary:{self.workspace}:{self.channel_id}"


@dataclass(slots=True)
class WebhookSubscription:
    id: str
    workspace: str
    url: str
    secret: str
    events: tuple[str, ...]  # empty = every event
    created_by: str
    created_at: datetime
    active: bool = True

    def wants(self, event: str) -> bool:
        return self.active and (not self.events or event in self.events)


@dataclass(slots=True)
class JobRun:
    """The latest claimed slot of one job: when it was due, claimed and finished."""

    job: str
    slot: datetime
    claimed_by: str
    claimed_at: datetime
    finished_at: datetime | None

    @property
    def lag(self) -> timedelta:
        return self.claimed_at - self.slot


@dataclass(slots=True)
class DueSession:
    """A session due for a reminder, with the claim key of this occurrence."""

    session: Session
    key: str
    plan_id: str | None = None
    number: int = 1
    since: datetime | None = None


@dataclass(slots=True)
class SummaryRows:
    """What a channel summary counts, read in one go."""

    started: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    pending: list[tuple[Session, datetime]] = field(default_factory=list)
    idle: list[Session] = field(default_factory=list)


# -- writes that claim: applied first, in the same transaction as the unit they guard --------


@dataclass(frozen=True, slots=True)
class ClaimSlot:
    """Insert (job, slot) into job_runs; lost when the slot was claimed before."""

    job: str
    slot: datetime
    owner: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ClaimReminder:
    """Insert an automatic reminder (already sent); lost when its id exists."""

    reminder: Reminder


@dataclass(frozen=True, slots=True)
class SendReminder:
    """Move a scheduled reminder to sent; lost when it is no longer scheduled."""

    reminder_id: str


@dataclass(frozen=True, slots=True)
class MarkSummarySent:
    """Record when a subscription's summary went out (never lost)."""

    workspace: str
    channel_id: str
    at: datetime


JobWrite = ClaimSlot | ClaimReminder | SendReminder | MarkSummarySent
