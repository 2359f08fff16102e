"""Requests from a session's agent (action approvals and questions) and the votes on them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.models import Decision, PlanMessageRef


class RequestKind(StrEnum):
    ACTION = "action"
    QUESTION = "question"


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ANSWERED = "answered"
    EXPIRED = "expired"


class Risk(StrEnum):
    LOW = "low"
    HIGH = "high"


class OnExpiry(StrEnum):
    REJECT = "reject"
    APPROVE = "approve"
    ESCALATE = "escalate"


def digest(action: str, args: dict[str, Any]) -> str:
    """What a decision is bound to: the action and its arguments, canonically encoded."""
    text = json.dumps([action, args], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class Vote:
    """One person's decision on a request; a later one by the same person replaces it."""

    request_id: str
    user_id: str
    decision: Decision
    digest: str
    at: datetime
    reason: str | None = None


@dataclass(slots=True)
class Request:
    id: str
    session_id: str
    kind: RequestKind
    status: RequestStatus
    created_by: str
    created_at: datetime
    action: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    risk: Risk = Risk.LOW
    need: int = 1
    approvers: list[str] = field(default_factory=list)
    on_expiry: OnExpiry = OnExpiry.REJECT
    expires_at: datetime | None = None
    question: str = ""
    choices: list[str] = field(default_factory=list)
    free_text: bool = False
    digest: str = ""
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    answer: str | None = None
    edited_args: dict[str, Any] | None = None
    escalated: bool = False
    row_version: int = 1
    votes: list[Vote] = field(default_factory=list)
    messages: list[PlanMessageRef] = field(default_factory=list)  # where it is shown in chat

    @property
    def final_args(self) -> dict[str, Any]:
        """The arguments the agent runs with: the approver's edit when there was one."""
        return self.edited_args if self.edited_args is not None else self.args

    def approvers_of_current(self) -> set[str]:
        """Distinct people who approved these exact arguments."""
        return {
            v.user_id
            for v in self.votes
            if v.decision is Decision.APPROVE and v.digest == self.digest
        }


@dataclass(slots=True)
class OnLadder:
    """A pending request with a deadline, as the escalation ladder reads it: the claim key
    prefix of its current round (`auto_request:<id>:<round>`) and whether `:50` was sent."""

    request: Request
    key: str
    half_sent: bool

    @property
    def id(self) -> str:
        return self.request.id


@dataclass(slots=True)
class RequestTally:
    """What requests add up to over a window: how many were created, how many settled as each
    status, and the creation-to-decision times of those a person decided."""

    created: int = 0
    settled: dict[str, int] = field(default_factory=dict)  # approved, rejected, answered, expired
    latencies: list[timedelta] = field(default_factory=list)


@dataclass(slots=True)
class RequestStats:
    """Agents' requests over a window: created, settled by status, median decision time."""

    created: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    median_latency: timedelta | None = None
