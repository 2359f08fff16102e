"""The escalation ladder of agents' requests: reminders at 50 % and 80 % of a request's time.

Each step reminds the session's thread and DMs every approver who has not decided the current
arguments yet. Sending a step is one unit whose first write is its claim — inserting the
automatic reminder under its deterministic id `auto_request:<request id>:<round>:<percent>` —
so a restart or a second process sweeping at the same moment never sends it twice. The expiry
itself (reject, approve a low-risk action, escalate once) is `Requests.expire`, run by the
sweep; an escalated request starts round 2, whose steps follow its extended deadline.
"""

from __future__ import annotations

from datetime import datetime

from core import notices, request_cards
from core.jobs.reminders import MAX_DMS, sent_event
from core.records.jobs import ClaimReminder, Reminder, ReminderKind, ReminderStatus
from core.records.requests import OnLadder, Request
from core.services.sessions import SYSTEM_USER
from core.store import ops
from core.wiring import Services

STEPS = (50, 80)  # percent of a round's time


def window(request: Request) -> tuple[datetime, datetime] | None:
    """The span of the current round: creation to expiry, or, once escalated, the extension
    (as long as the original time, ending at the new deadline)."""
    if request.expires_at is None:
        return None
    start, end = request.created_at, request.expires_at
    if request.escalated:
        start = end - (end - start) / 2
    return start, end


def due_step(rung: OnLadder, now: datetime) -> int | None:
    """The step to send at `now` (the latest one reached; a missed 50 % gives way to 80 %)."""
    span = window(rung.request)
    if span is None or now >= span[1]:
        return None  # past the deadline: the expiry acts, not a reminder
    start, end = span
    reached = [p for p in STEPS if now >= start + (end - start) * p / 100]
    if not reached or (reached[-1] == STEPS[0] and rung.half_sent):
        return None
    return reached[-1]


async def remind(services: Services, rung: OnLadder, now: datetime) -> bool:
    """Send the due step of `rung` once (False when none is due or another process sent it)."""
    percent = due_step(rung, now)
    request = rung.request
    session = await services.store.sessions.by_id(request.session_id)
    if percent is None or session is None:
        return False
    key = f"{rung.key}:{percent}"
    view = request_cards.reminder(session, request, percent=percent, now=now)
    waiting = await services.requests.waiting_on(session, request)
    unit: list[ops.Op] = [
        sent_event(session, ReminderKind.AUTO_REQUEST, now, request_id=request.id, percent=percent),
        notices.to_thread(session, view, key=f"reminder:{key}", now=now),
        *(
            notices.direct(session, user_id, view, key=f"reminder-dm:{key}:{user_id}", now=now)
            for user_id in waiting[:MAX_DMS]
        ),
    ]
    reminder = Reminder(
        id=key,
        workspace=session.workspace,
        session_id=session.id,
        target=f"channel:{session.channel_id}",
        text=view.title,
        due_at=now,
        created_by=SYSTEM_USER,
        kind=ReminderKind.AUTO_REQUEST,
        status=ReminderStatus.SENT,
        created_at=now,
    )
    return await services.store.jobs.apply_claimed([ClaimReminder(reminder)], unit)
