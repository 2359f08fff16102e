"""What an agent may ask: the limits of a request, and the checks that make an `Ask` a new
pending `Request` (refused with a clear error, nothing stored, when a limit is passed)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core import jsonlimits
from core.errors import LimitExceeded, UsageError
from core.models import Actor, Session, new_id
from core.records.requests import OnExpiry, Request, RequestKind, RequestStatus, Risk, digest
from core.store.codec import dumps
from core.users import check_user_id

ACTION_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,79}"
MAX_ARGS_BYTES = 16 * 1024
MAX_ARGS_DEPTH = 16
MAX_TEXT = 2000
MAX_CHOICES = 10
MAX_CHOICE = 75  # a Slack button's text
MAX_NEED = 20
MIN_EXPIRY, MAX_EXPIRY = timedelta(minutes=1), timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Ask:
    """What an agent asks: an action to approve (`action`, `args`) or a `question`."""

    kind: RequestKind
    action: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    risk: Risk = Risk.LOW
    need: int | None = None
    approvers: tuple[str, ...] = ()
    expires_in: timedelta | None = None
    on_expiry: OnExpiry = OnExpiry.REJECT
    question: str = ""
    choices: tuple[str, ...] = ()
    free_text: bool = False


def new_request(
    ask: Ask, actor: Actor, session: Session, now: datetime, expires_in: timedelta | None
) -> Request:
    """A new pending request from what the agent asked, every limit checked."""
    if expires_in is not None and not MIN_EXPIRY <= expires_in <= MAX_EXPIRY:
        raise UsageError("expires_in is from 1 minute to 30 days.")
    base = Request(
        id=new_id(),
        session_id=session.id,
        kind=ask.kind,
        status=RequestStatus.PENDING,
        created_by=actor.user_id,
        created_at=now,
        expires_at=now + expires_in if expires_in else None,
        on_expiry=ask.on_expiry,
    )
    if ask.kind is RequestKind.QUESTION:
        question = ask.question.strip()
        if not question or len(question) > MAX_TEXT:
            raise UsageError(f"A question is 1 to {MAX_TEXT} characters.")
        choices = [c.strip() for c in ask.choices]
        if len(choices) > MAX_CHOICES or any(not c or len(c) > MAX_CHOICE for c in choices):
            raise UsageError(f"Up to {MAX_CHOICES} choices of 1 to {MAX_CHOICE} characters.")
        if len(set(choices)) != len(choices):
            raise UsageError("The choices must differ from each other.")
        if not choices and not ask.free_text:
            raise UsageError("A question needs choices, free text, or both.")
        if ask.on_expiry is OnExpiry.APPROVE:
            raise UsageError("A question cannot be approved on expiry.")
        return dataclasses.replace(
            base, question=question, choices=choices, free_text=ask.free_text
        )
    if not re.fullmatch(ACTION_PATTERN, ask.action):
        raise UsageError(
            "An action is a name of 1 to 80 letters, digits and `_ . : / -` (deploy, db.migrate)."
        )
    args = checked_args(ask.args)
    summary = ask.summary.strip()
    if len(summary) > MAX_TEXT:
        raise UsageError(f"The summary is at most {MAX_TEXT} characters.")
    need = ask.need if ask.need is not None else (2 if ask.risk is Risk.HIGH else 1)
    if not 1 <= need <= MAX_NEED:
        raise UsageError(f"need is from 1 to {MAX_NEED}.")
    if ask.on_expiry is OnExpiry.APPROVE and ask.risk is Risk.HIGH:
        raise UsageError("A high-risk action is never approved on expiry: use reject or escalate.")
    approvers = list(dict.fromkeys(check_user_id(session.workspace, a) for a in ask.approvers))
    if len(approvers) > MAX_NEED:
        raise UsageError(f"Name at most {MAX_NEED} approvers.")
    if approvers and len(approvers) < need:
        raise UsageError(f"need: {need} approvals, but only {len(approvers)} approvers named.")
    return dataclasses.replace(
        base,
        action=ask.action,
        args=args,
        summary=summary,
        risk=ask.risk,
        need=need,
        approvers=approvers,
        digest=digest(ask.action, args),
    )


def checked_args(args: Any) -> dict[str, Any]:
    """Arguments as an agent or an approver gives them: a JSON object within the limits."""
    if not isinstance(args, dict):
        raise UsageError("args is a JSON object.")
    jsonlimits.check_depth(args, "args", limit=MAX_ARGS_DEPTH)
    size = len(dumps(args).encode())
    if size > MAX_ARGS_BYTES:
        raise LimitExceeded(f"args ({size:,} bytes)", f"{MAX_ARGS_BYTES:,}", unit=" bytes")
    return args
