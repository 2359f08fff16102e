"""Outbox rows for notifications: written in the same unit of work as the change they announce."""

from __future__ import annotations

from datetime import datetime

from core.models import OutboxKind, OutboxRow, OutboxStatus, Plan, Session, new_id
from core.records.requests import Request
from core.store.ops import Enqueue
from core.views import View


def _row(
    session: Session, kind: OutboxKind, target: dict[str, str], view: View, key: str, now: datetime
) -> Enqueue:
    return Enqueue(
        OutboxRow(
            id=new_id(),
            workspace=session.workspace,
            session_id=session.id,
            kind=kind,
            target=target,
            payload=view.to_json(),
            dedupe_key=key,
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def to_thread(session: Session, view: View, *, key: str, now: datetime) -> Enqueue:
    """A notification in the session's thread (the channel itself until the card is posted)."""
    target = {"channel_id": session.channel_id, "thread_of": session.id}
    return _row(session, OutboxKind.CHANNEL_MESSAGE, target, view, key, now)


def card(session: Session, view: View, *, now: datetime) -> Enqueue:
    """The session card posted when a session starts; its message becomes the thread (a
    session started from a message's thread posts its card in that thread)."""
    target = {"channel_id": session.channel_id, "card_of": session.id}
    if session.thread_ref is not None:
        target["thread_of"] = session.id
    return _row(session, OutboxKind.CHANNEL_MESSAGE, target, view, f"card:{session.id}", now)


def plan_post(session: Session, plan: Plan, view: View, *, now: datetime) -> Enqueue:
    """The plan with its buttons, top level in the channel so approvers see it."""
    target = {"channel_id": session.channel_id, "plan_id": plan.id}
    return _row(session, OutboxKind.CHANNEL_MESSAGE, target, view, f"plan:{plan.id}", now)


def plan_update(session: Session, plan: Plan, view: View, *, key: str, now: datetime) -> Enqueue:
    """Edit every posted copy of a plan message in place."""
    target = {"plan_id": plan.id}
    return _row(session, OutboxKind.MESSAGE_UPDATE, target, view, key, now)


def direct(session: Session, user_id: str, view: View, *, key: str, now: datetime) -> Enqueue:
    """A direct message to one person (reminders)."""
    return _row(session, OutboxKind.DM, {"user_id": user_id}, view, key, now)


def request_post(session: Session, request: Request, view: View, *, now: datetime) -> Enqueue:
    """An agent's request with its buttons, in the session's thread."""
    target = {"channel_id": session.channel_id, "thread_of": session.id, "request_id": request.id}
    return _row(session, OutboxKind.CHANNEL_MESSAGE, target, view, f"request:{request.id}", now)


def request_update(
    session: Session, request: Request, view: View, *, key: str, now: datetime
) -> Enqueue:
    """Edit every posted copy of a request message in place."""
    return _row(session, OutboxKind.MESSAGE_UPDATE, {"request_id": request.id}, view, key, now)


def request_elsewhere(
    session: Session, request: Request, view: View, channel_id: str, *, now: datetime
) -> Enqueue:
    """A second copy of a request with its buttons, top level in another channel (escalation);
    the dispatcher records it, so updates edit it in place with the first."""
    target = {"channel_id": channel_id, "request_id": request.id}
    key = f"request:{request.id}:in:{channel_id}"
    return _row(session, OutboxKind.CHANNEL_MESSAGE, target, view, key, now)
